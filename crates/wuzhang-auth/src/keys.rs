//! The installation's signing secret: minting and verifying tokens, and the key file that
//! keeps the secret across restarts.

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use time::{Duration, OffsetDateTime};
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;

use crate::{AuthError, Claims, KeyError};

/// The `iss` of every token wuzhang mints and the only one it accepts.
pub const ISSUER: &str = "wuzhang";

/// Shortest HS256 secret we accept: RFC 7518 §3.2 asks for at least the hash size.
pub const MIN_SECRET_LEN: usize = 32;

/// Tolerated clock difference between the minting and the verifying machine.
pub const LEEWAY: Duration = Duration::seconds(30);

/// Longest token we look at; anything larger is not one of ours and not worth decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Longest `sub` we accept; subjects end up in keys and logs.
const MAX_SUBJECT_LEN: usize = 128;

/// Most tokens remembered as verified; when full, the memory starts over.
const MAX_VERIFIED: usize = 4096;

/// HS256 keys from one shared secret, plus the checks every token must pass.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Signature and algorithm only: claims are checked by [`Keys::verify`] against an
    /// injected `now`, since jsonwebtoken would read the system clock.
    validation: Validation,
    /// When set, minted tokens carry it and verified tokens must; when unset, tokens with
    /// any `aud` are refused (RFC 7519 §4.1.3: a recipient not named must reject).
    audience: Option<String>,
    /// Tokens that passed every check but the clock's, with what they grant. A phone
    /// sends the same token with every call, and checking it (base64, HMAC, two JSON
    /// documents) was about a twentieth of the server's CPU for a submission (perf,
    /// `submit-load`, one caller: ~4%). Whatever a token grants follows from its bytes and these keys,
    /// which never change, except `exp` and `iat` against `now`, which a remembered
    /// token is checked against again on every use. Only tokens that passed are kept,
    /// so a forged one costs the full check every time.
    verified: Mutex<HashMap<String, Verified>>,
}

/// A token that passed [`Keys::verify`] once: what it grants, and when.
#[derive(Debug, Clone)]
struct Verified {
    principal: Principal,
    exp: i64,
    iat: i64,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("algorithm", &"HS256")
            .field("secret", &"<redacted>")
            .field("audience", &self.audience)
            .finish()
    }
}

impl Keys {
    /// Keys from a shared secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        // Fail here, at startup, rather than on the first request if jsonwebtoken was
        // built with no (or two) crypto backends somewhere in the dependency graph.
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(KeyError::NoCryptoProvider);
        }
        // Only an empty secret is refused by these, and we refused it above.
        let too_short = |_| KeyError::TooShort { len: secret.len() };
        let encoding = EncodingKey::from_secret(secret).map_err(too_short)?;
        let decoding = DecodingKey::from_secret(secret).map_err(too_short)?;

        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;

        Ok(Self {
            encoding,
            decoding,
            validation,
            audience: None,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Keys from a secret given in base64 (standard alphabet, padded), as in the key file
    /// or a `jwt_secret` setting. Surrounding whitespace is ignored.
    pub fn from_base64(secret: &str) -> Result<Self, KeyError> {
        let secret = BASE64
            .decode(secret.trim())
            .map_err(|_| KeyError::NotBase64)?;
        Self::from_secret(&secret)
    }

    /// Keys from a fresh random 32-byte secret, for the first start of an installation.
    pub fn generate() -> Self {
        let secret: [u8; MIN_SECRET_LEN] = rand::random();
        Self::from_secret(&secret).expect("a generated secret has the minimum length")
    }

    /// Mint and require `aud` = `audience`, for installations that share a secret with
    /// other systems.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        // What was verified was verified for another audience.
        self.verified
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self
    }

    /// The secret in the key file format: base64, one line, no newline.
    fn to_base64(&self) -> String {
        BASE64.encode(self.encoding.as_bytes())
    }

    /// A token for `principal`, valid from `now` for `ttl`.
    ///
    /// Refuses (with the reason [`Keys::verify`] would give) to mint a token that could
    /// never be used: a non-positive `ttl`, or a scope that does not fit the role
    /// ([`check_principal`]).
    pub fn mint(
        &self,
        principal: &Principal,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<String, AuthError> {
        if !ttl.is_positive() {
            return Err(AuthError::invalid("ttl must be positive"));
        }
        if principal.subject.is_empty() || principal.subject.len() > MAX_SUBJECT_LEN {
            return Err(AuthError::invalid("bad subject"));
        }
        check_principal(principal)?;
        Ok(self.sign(&Claims {
            sub: principal.subject.clone(),
            role: principal.role.as_str().to_owned(),
            scope: principal
                .scope
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            iat: now.unix_timestamp(),
            exp: (now + ttl).unix_timestamp(),
            iss: ISSUER.to_owned(),
            aud: self.audience.clone(),
            jti: Some(uuid::Uuid::new_v4().to_string()),
        }))
    }

    /// Signs arbitrary claims without checking them. [`Keys::mint`] is the normal way to
    /// make a token; this exists for tests that need a token [`Keys::verify`] must refuse.
    pub fn sign(&self, claims: &Claims) -> String {
        // HS256 signing of a serializable struct cannot fail once `from_secret` has found
        // a crypto provider: the key family matches the header and HMAC accepts any key.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("hs256 signing with a checked key cannot fail")
    }

    /// The principal a token grants at `now`, or why it grants nothing.
    ///
    /// Checks, in order: shape, HS256 signature, `iss`, `aud`, `exp` and `iat` against
    /// `now` (with [`LEEWAY`]), subject, role, scope codes, and that the scope fits the
    /// role ([`check_principal`]).
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Principal, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let now = now.unix_timestamp();
        let remembered = self.verified().get(token).cloned();
        if let Some(v) = remembered {
            check_times(v.exp, v.iat, now)?;
            return Ok(v.principal);
        }
        let v = self.check(token, now)?;
        let mut verified = self.verified();
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(token.to_owned(), v.clone());
        Ok(v.principal)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        // The map is consistent whatever a panicking holder was doing (one insert or
        // clear at a time), so a poisoned lock is still good to use.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every check of [`verify`](Self::verify), in its order, on a token not remembered.
    fn check(&self, token: &str, now: i64) -> Result<Verified, AuthError> {
        // A header that does not even decode is garbage, not a forgery attempt worth
        // distinguishing further.
        jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| classify(e.kind()))?
            .claims;

        if claims.iss != ISSUER {
            return Err(AuthError::invalid("wrong issuer"));
        }
        if claims.aud != self.audience {
            return Err(AuthError::invalid("wrong audience"));
        }
        check_times(claims.exp, claims.iat, now)?;
        if claims.sub.is_empty() || claims.sub.len() > MAX_SUBJECT_LEN {
            return Err(AuthError::invalid("bad subject"));
        }
        let role: Role = claims
            .role
            .parse()
            .map_err(|_| AuthError::invalid("unknown role"))?;
        let scope = claims
            .scope
            .into_iter()
            .map(AreaCode::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AuthError::invalid("bad scope code"))?;
        let principal = Principal {
            subject: claims.sub,
            role,
            scope,
        };
        check_principal(&principal)?;
        Ok(Verified {
            principal,
            exp: claims.exp,
            iat: claims.iat,
        })
    }
}

/// `exp` and `iat` (seconds since the epoch) against `now`, with [`LEEWAY`].
fn check_times(exp: i64, iat: i64, now: i64) -> Result<(), AuthError> {
    let leeway = LEEWAY.whole_seconds();
    if exp.saturating_add(leeway) < now {
        return Err(AuthError::Expired);
    }
    if iat.saturating_sub(leeway) > now {
        return Err(AuthError::invalid("issued in the future"));
    }
    Ok(())
}

/// Whether a principal's scope fits its role: chiefs and command centers act for at
/// least one area, organization staff for at least one organization; residents and
/// admins act for none (their access does not come from areas, so a scope on their token
/// is a minting mistake we refuse rather than ignore).
pub fn check_principal(principal: &Principal) -> Result<(), AuthError> {
    match principal.role {
        Role::Chief | Role::CommandCenter | Role::Organization if principal.scope.is_empty() => {
            Err(AuthError::invalid("role requires a scope"))
        }
        Role::Resident | Role::Admin if !principal.scope.is_empty() => {
            Err(AuthError::invalid("role takes no scope"))
        }
        _ => Ok(()),
    }
}

/// Maps jsonwebtoken's errors onto ours without passing its messages on.
fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => AuthError::Malformed,
        ErrorKind::InvalidSignature => AuthError::invalid("bad signature"),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::invalid("algorithm not accepted")
        }
        // Claims are decoded only after the signature checked out: a token we signed
        // cannot have them wrong, so this is someone else's token.
        ErrorKind::Json(_)
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::MissingRequiredClaim(_) => AuthError::invalid("bad claims"),
        ErrorKind::ExpiredSignature => AuthError::Expired,
        _ => AuthError::invalid("token refused"),
    }
}

/// Keys from a key file: the secret in base64 on one line.
///
/// On Unix, a file readable by group or others is used but logged as a warning.
pub fn load_key_file(path: &Path) -> Result<Keys, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    warn_if_exposed(path);
    let line = text.trim();
    if line.contains(char::is_whitespace) {
        return Err(KeyError::Format {
            path: path.to_owned(),
        });
    }
    Keys::from_base64(line).map_err(|e| match e {
        KeyError::NotBase64 => KeyError::Format {
            path: path.to_owned(),
        },
        other => other,
    })
}

/// Keys from the key file at `path`, creating it (mode 0600, parent directories as
/// needed) with a fresh secret when it does not exist, so a first start needs no setup.
pub fn load_or_create_key_file(path: &Path) -> Result<Keys, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    if path.exists() {
        return load_key_file(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let keys = Keys::generate();
    let mut options = std::fs::OpenOptions::new();
    // `create_new` so two processes starting together cannot both write a secret: the
    // loser reads the winner's.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return load_key_file(path),
        Err(e) => return Err(io(e)),
    };
    writeln!(file, "{}", keys.to_base64()).map_err(io)?;
    file.sync_all().map_err(io)?;
    tracing::info!(path = %path.display(), "created a new token signing key");
    Ok(keys)
}

#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
            "token signing key is readable by others"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 08:00 UTC);

    fn keys() -> Keys {
        Keys::from_secret(&[7u8; 32]).unwrap()
    }

    fn code(s: &str) -> AreaCode {
        AreaCode::new(s).unwrap()
    }

    fn principal(role: Role, scope: &[&str]) -> Principal {
        Principal {
            subject: format!("{role}-1"),
            role,
            scope: scope.iter().map(|s| code(s)).collect(),
        }
    }

    fn claims() -> Claims {
        Claims {
            sub: "p-1".into(),
            role: "chief".into(),
            scope: vec!["220102001".into()],
            iat: NOW.unix_timestamp(),
            exp: (NOW + Duration::hours(1)).unix_timestamp(),
            iss: ISSUER.into(),
            aud: None,
            jti: None,
        }
    }

    #[test]
    fn mint_then_verify_round_trips_every_role() {
        let keys = keys();
        for p in [
            principal(Role::Resident, &[]),
            principal(Role::Chief, &["220102001001001"]),
            principal(Role::CommandCenter, &["220102001", "220102002"]),
            principal(Role::Admin, &[]),
        ] {
            let token = keys.mint(&p, Duration::hours(1), NOW).unwrap();
            assert_eq!(keys.verify(&token, NOW + Duration::minutes(59)), Ok(p));
        }
    }

    #[test]
    fn minted_claims_carry_issuer_times_and_id() {
        let keys = keys();
        let token = keys
            .mint(&principal(Role::Admin, &[]), Duration::minutes(5), NOW)
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let claims: Claims = serde_json::from_slice(&json).unwrap();
        assert_eq!(claims.iss, ISSUER);
        assert_eq!(claims.role, "admin");
        assert_eq!(claims.iat, NOW.unix_timestamp());
        assert_eq!(claims.exp, NOW.unix_timestamp() + 300);
        assert!(claims.jti.is_some());
        assert_eq!(claims.aud, None);
    }

    #[test]
    fn expired_tokens_are_refused_after_the_leeway() {
        let keys = keys();
        let token = keys
            .mint(&principal(Role::Resident, &[]), Duration::hours(1), NOW)
            .unwrap();
        let exp = NOW + Duration::hours(1);
        assert!(keys.verify(&token, exp + LEEWAY).is_ok());
        assert_eq!(
            keys.verify(&token, exp + LEEWAY + Duration::seconds(1)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn a_remembered_token_is_checked_against_the_clock_every_time() {
        let keys = keys();
        let p = principal(Role::Resident, &[]);
        let token = keys.mint(&p, Duration::hours(1), NOW).unwrap();
        // The first use remembers it; later uses still see the clock.
        assert_eq!(keys.verify(&token, NOW), Ok(p.clone()));
        assert_eq!(
            keys.verify(&token, NOW - Duration::minutes(5)),
            Err(AuthError::invalid("issued in the future"))
        );
        assert_eq!(
            keys.verify(&token, NOW + Duration::hours(2)),
            Err(AuthError::Expired)
        );
        assert_eq!(keys.verify(&token, NOW + Duration::minutes(1)), Ok(p));
        // A token differing in one byte of its signature is not the remembered one.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.verify(&forged, NOW).is_err());
        // Nor is the same token under keys of another audience.
        let other = Keys::from_secret(&[7u8; 32]).unwrap().with_audience("x");
        assert!(other.verify(&token, NOW).is_err());
    }

    #[test]
    fn tokens_from_the_future_are_refused() {
        let keys = keys();
        let token = keys
            .mint(&principal(Role::Resident, &[]), Duration::hours(1), NOW)
            .unwrap();
        assert_eq!(
            keys.verify(&token, NOW - Duration::minutes(5)),
            Err(AuthError::invalid("issued in the future"))
        );
    }

    #[test]
    fn a_token_of_another_key_is_refused() {
        let token = keys()
            .mint(&principal(Role::Admin, &[]), Duration::hours(1), NOW)
            .unwrap();
        let other = Keys::from_secret(&[8u8; 32]).unwrap();
        assert_eq!(
            other.verify(&token, NOW),
            Err(AuthError::invalid("bad signature"))
        );
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let keys = keys();
        let token = keys
            .mint(&principal(Role::Resident, &[]), Duration::hours(1), NOW)
            .unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims();
        forged.role = "admin".into();
        forged.scope.clear();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            keys.verify(&parts.join("."), NOW),
            Err(AuthError::invalid("bad signature"))
        );
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let keys = keys();
        let token = keys
            .mint(&principal(Role::Admin, &[]), Duration::hours(1), NOW)
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{header}.{payload}.");
        assert!(keys.verify(&unsigned, NOW).is_err());
    }

    #[test]
    fn garbage_is_malformed() {
        let keys = keys();
        for token in ["", "abc", "a.b.c", "....", &"x".repeat(MAX_TOKEN_LEN + 1)] {
            assert_eq!(
                keys.verify(token, NOW),
                Err(AuthError::Malformed),
                "{token:.20}"
            );
        }
    }

    #[test]
    fn claims_are_checked() {
        let keys = keys();
        let refuse = |c: Claims, reason: &'static str| {
            assert_eq!(
                keys.verify(&keys.sign(&c), NOW),
                Err(AuthError::invalid(reason)),
                "{c:?}"
            );
        };
        refuse(
            Claims {
                role: "mayor".into(),
                ..claims()
            },
            "unknown role",
        );
        refuse(
            Claims {
                scope: vec![],
                ..claims()
            },
            "role requires a scope",
        );
        refuse(
            Claims {
                role: "command_center".into(),
                scope: vec![],
                ..claims()
            },
            "role requires a scope",
        );
        refuse(
            Claims {
                role: "resident".into(),
                ..claims()
            },
            "role takes no scope",
        );
        refuse(
            Claims {
                scope: vec!["22 01".into()],
                ..claims()
            },
            "bad scope code",
        );
        refuse(
            Claims {
                iss: "someone-else".into(),
                ..claims()
            },
            "wrong issuer",
        );
        refuse(
            Claims {
                aud: Some("elsewhere".into()),
                ..claims()
            },
            "wrong audience",
        );
        refuse(
            Claims {
                sub: String::new(),
                ..claims()
            },
            "bad subject",
        );
        assert!(keys.verify(&keys.sign(&claims()), NOW).is_ok());
    }

    #[test]
    fn claims_of_another_shape_are_refused() {
        let keys = keys();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({ "sub": "x", "exp": NOW.unix_timestamp() + 60 }),
            &EncodingKey::from_secret(&[7u8; 32]).unwrap(),
        )
        .unwrap();
        assert_eq!(
            keys.verify(&token, NOW),
            Err(AuthError::invalid("bad claims"))
        );
    }

    #[test]
    fn audience_is_minted_and_required_when_configured() {
        let with = Keys::from_secret(&[7u8; 32]).unwrap().with_audience("cc");
        let without = keys();
        let p = principal(Role::Admin, &[]);
        let token = with.mint(&p, Duration::hours(1), NOW).unwrap();
        assert_eq!(with.verify(&token, NOW), Ok(p.clone()));
        assert!(without.verify(&token, NOW).is_err());
        let plain = without.mint(&p, Duration::hours(1), NOW).unwrap();
        assert_eq!(
            with.verify(&plain, NOW),
            Err(AuthError::invalid("wrong audience"))
        );
    }

    #[test]
    fn unusable_tokens_are_not_minted() {
        let keys = keys();
        let hour = Duration::hours(1);
        assert_eq!(
            keys.mint(&principal(Role::Chief, &[]), hour, NOW),
            Err(AuthError::invalid("role requires a scope"))
        );
        assert_eq!(
            keys.mint(&principal(Role::Admin, &["220102001"]), hour, NOW),
            Err(AuthError::invalid("role takes no scope"))
        );
        assert_eq!(
            keys.mint(&principal(Role::Admin, &[]), Duration::ZERO, NOW),
            Err(AuthError::invalid("ttl must be positive"))
        );
        let nobody = Principal {
            subject: String::new(),
            ..principal(Role::Resident, &[])
        };
        assert_eq!(
            keys.mint(&nobody, hour, NOW),
            Err(AuthError::invalid("bad subject"))
        );
    }

    #[test]
    fn base64_secrets_are_accepted() {
        let keys = Keys::from_base64(&format!(" {}\n", BASE64.encode([7u8; 32]))).unwrap();
        let token = keys
            .mint(&principal(Role::Admin, &[]), Duration::hours(1), NOW)
            .unwrap();
        assert!(self::keys().verify(&token, NOW).is_ok());
        assert!(matches!(
            Keys::from_base64("not base64!"),
            Err(KeyError::NotBase64)
        ));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            Keys::from_secret(&[1u8; 31]),
            Err(KeyError::TooShort { len: 31 })
        ));
    }

    #[test]
    fn generated_keys_differ() {
        let a = Keys::generate();
        let b = Keys::generate();
        assert_ne!(a.to_base64(), b.to_base64());
        let token = a
            .mint(&principal(Role::Admin, &[]), Duration::hours(1), NOW)
            .unwrap();
        assert!(b.verify(&token, NOW).is_err());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let keys = keys();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&keys.to_base64()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn key_file_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/jwt.key");
        let first = load_or_create_key_file(&path).unwrap();
        let second = load_or_create_key_file(&path).unwrap();
        let token = first
            .mint(&principal(Role::Admin, &[]), Duration::hours(1), NOW)
            .unwrap();
        assert!(second.verify(&token, NOW).is_ok());

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert_eq!(BASE64.decode(text.trim()).unwrap().len(), MIN_SECRET_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_key_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        assert!(matches!(load_key_file(&missing), Err(KeyError::Io { .. })));
        let garbled = dir.path().join("garbled.key");
        std::fs::write(&garbled, "not base64!\n").unwrap();
        assert!(matches!(
            load_key_file(&garbled),
            Err(KeyError::Format { .. })
        ));
        let short = dir.path().join("short.key");
        std::fs::write(&short, BASE64.encode([1u8; 16])).unwrap();
        assert!(matches!(
            load_key_file(&short),
            Err(KeyError::TooShort { len: 16 })
        ));
    }
}
