//! The JWT payload.

use serde::{Deserialize, Serialize};

/// What a wuzhang token says, in the shape it has on the wire. Values are unchecked here;
/// [`Keys::verify`](crate::Keys::verify) turns them into a
/// [`Principal`](wuzhang_domain::access::Principal) or refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The caller's stable identity; becomes `Principal::subject`.
    pub sub: String,
    /// A [`Role`](wuzhang_domain::access::Role) name, e.g. `command_center`.
    pub role: String,
    /// Area codes the token acts for; absent means empty.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
    /// Always [`ISSUER`](crate::ISSUER); keeps tokens of other systems sharing a secret out.
    pub iss: String,
    /// Set only when the installation is configured with an audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// A unique token id, so a leaked token can be named (and later revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}
