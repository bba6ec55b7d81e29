//! Bearer JWT authentication for wuzhang's gRPC services. Every RPC except health and
//! reflection carries `authorization: Bearer <jwt>`; the [`Authenticator`] interceptor
//! verifies it against the installation's HS256 secret and hands the handler a
//! [`Principal`] (role and scope) to make its object-level checks with. Tokens are minted
//! here too, by the `wuzhang token` command and by tests. Time is always passed in (a
//! [`Clock`] for the interceptor, a `now` for [`Keys`]) so expiry is testable.
//!
//! Layout:
//! - [`claims`]: the JWT payload as it travels ([`Claims`]).
//! - [`keys`]: the shared secret, minting and verifying ([`Keys`]), and the key file.
//! - [`error`]: why a request is not authenticated ([`AuthError`]) and its gRPC status.
//! - [`interceptor`]: the tonic interceptor, the handler-side [`principal`] accessor and
//!   the client-side [`bearer`] helper.
//!
//! [`Principal`]: wuzhang_domain::access::Principal
//! [`Clock`]: wuzhang_domain::clock::Clock

pub mod claims;
pub mod error;
pub mod interceptor;
pub mod keys;

pub use claims::Claims;
pub use error::{AuthError, KeyError};
pub use interceptor::{Authenticator, bearer, principal};
pub use keys::{
    ISSUER, Keys, LEEWAY, MIN_SECRET_LEN, check_principal, load_key_file, load_or_create_key_file,
};
