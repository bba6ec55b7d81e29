//! The tonic interceptor that turns a bearer token into a [`Principal`] on the request,
//! and the helpers on either side of it.

use std::sync::Arc;

use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::{Request, Status};
use wuzhang_domain::access::Principal;
use wuzhang_domain::clock::Clock;

use crate::{AuthError, Keys};

/// Verifies `authorization: Bearer <jwt>` on every call of the service it wraps and puts
/// the caller's [`Principal`] into the request extensions, where [`principal`] finds it.
/// Mount health and reflection without it.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: Arc<Keys>,
    /// Expiry is judged by the injected clock, so tests can age tokens without waiting.
    clock: Arc<dyn Clock>,
}

impl Authenticator {
    pub fn new(keys: Arc<Keys>, clock: Arc<dyn Clock>) -> Self {
        Self { keys, clock }
    }

    /// The caller named by a request's metadata.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<Principal, AuthError> {
        let token = bearer_token(metadata)?;
        self.keys.verify(token, self.clock.now())
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match self.authenticate(request.metadata()) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                Ok(request)
            }
            Err(err) => {
                tracing::debug!(error = %err, "request rejected: not authenticated");
                Err(err.into())
            }
        }
    }
}

/// The token of `authorization: Bearer <token>`; the scheme is case-insensitive
/// (RFC 7235 §2.1).
fn bearer_token(metadata: &MetadataMap) -> Result<&str, AuthError> {
    let value = metadata.get("authorization").ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// The authenticated caller of a request, for handlers. UNAUTHENTICATED when there is
/// none, which means the service was mounted without the [`Authenticator`]: a wiring
/// mistake that must fail closed.
pub fn principal<T>(request: &Request<T>) -> Result<&Principal, Status> {
    request.extensions().get::<Principal>().ok_or_else(|| {
        tracing::error!("no principal on the request: service mounted without the authenticator");
        Status::unauthenticated("no authenticated caller")
    })
}

/// The `authorization` value a client sends: `Bearer <token>`. Malformed if the token
/// holds characters a header cannot carry (minted tokens never do).
pub fn bearer(token: &str) -> Result<MetadataValue<Ascii>, AuthError> {
    MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| AuthError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;
    use tonic::Code;
    use tonic::service::Interceptor;
    use wuzhang_domain::access::Role;
    use wuzhang_domain::area::AreaCode;
    use wuzhang_domain::clock::ManualClock;

    fn setup() -> (Authenticator, Arc<Keys>, ManualClock) {
        let keys = Arc::new(Keys::from_secret(&[3u8; 32]).unwrap());
        let clock = ManualClock::new(datetime!(2026-11-29 08:00 UTC));
        let auth = Authenticator::new(Arc::clone(&keys), Arc::new(clock.clone()));
        (auth, keys, clock)
    }

    fn request_with(authorization: &str) -> Request<()> {
        let mut req = Request::new(());
        req.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(authorization).unwrap(),
        );
        req
    }

    fn refusal(auth: &mut Authenticator, req: Request<()>) -> (Code, String) {
        let status = auth.call(req).unwrap_err();
        (status.code(), status.message().to_owned())
    }

    #[test]
    fn a_valid_token_puts_the_principal_on_the_request() {
        let (mut auth, keys, clock) = setup();
        let p = Principal {
            subject: "cc-1".into(),
            role: Role::CommandCenter,
            scope: vec![AreaCode::new("220102001").unwrap()],
        };
        let token = keys.mint(&p, Duration::minutes(10), clock.now()).unwrap();
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", bearer(&token).unwrap());
        let req = auth.call(req).unwrap();
        assert_eq!(principal(&req).unwrap(), &p);

        // Scheme case does not matter.
        let req = auth.call(request_with(&format!("bEaReR {token}"))).unwrap();
        assert_eq!(principal(&req).unwrap(), &p);

        // The same token once the injected clock passes its expiry (and the leeway).
        clock.advance(Duration::minutes(11));
        let req = request_with(&format!("Bearer {token}"));
        assert_eq!(
            refusal(&mut auth, req),
            (Code::Unauthenticated, "token expired".to_owned())
        );
    }

    #[test]
    fn missing_or_garbled_headers_are_unauthenticated() {
        let (mut auth, keys, clock) = setup();
        assert_eq!(
            refusal(&mut auth, Request::new(())),
            (Code::Unauthenticated, "missing bearer token".to_owned())
        );
        let admin = Principal {
            subject: "a".into(),
            role: Role::Admin,
            scope: vec![],
        };
        let token = keys
            .mint(&admin, Duration::minutes(10), clock.now())
            .unwrap();
        for header in [
            "Basic abc".to_owned(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "token".to_owned(),
            token.clone(),
            "Bearer a.b.c".to_owned(),
            format!("Bearer {token}x"),
        ] {
            let (code, message) = refusal(&mut auth, request_with(&header));
            assert_eq!(code, Code::Unauthenticated, "{header}");
            assert!(
                message == "malformed bearer token" || message.starts_with("invalid token"),
                "{header}: {message}"
            );
        }
        // Bytes a header may carry but that are not text.
        let mut req = Request::new(());
        let value = MetadataValue::try_from(&b"Bearer \xe9t\xe9"[..]).unwrap();
        req.metadata_mut().insert("authorization", value);
        assert_eq!(
            refusal(&mut auth, req),
            (Code::Unauthenticated, "malformed bearer token".to_owned())
        );
    }

    #[test]
    fn a_token_of_another_installation_is_unauthenticated() {
        let (mut auth, _, clock) = setup();
        let other = Keys::from_secret(&[4u8; 32]).unwrap();
        let p = Principal {
            subject: "r1".into(),
            role: Role::Resident,
            scope: vec![],
        };
        let token = other.mint(&p, Duration::minutes(10), clock.now()).unwrap();
        let (code, message) = refusal(&mut auth, request_with(&format!("Bearer {token}")));
        assert_eq!(code, Code::Unauthenticated);
        assert_eq!(message, "invalid token: bad signature");
    }

    #[test]
    fn handlers_fail_closed_without_the_interceptor() {
        let req = Request::new(());
        assert_eq!(principal(&req).unwrap_err().code(), Code::Unauthenticated);
    }

    #[test]
    fn bearer_refuses_what_a_header_cannot_carry() {
        assert_eq!(bearer("abc").unwrap().to_str().unwrap(), "Bearer abc");
        assert_eq!(bearer("a\nb"), Err(AuthError::Malformed));
    }
}
