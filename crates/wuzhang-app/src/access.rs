//! Role checks at the door of each RPC. Object-level scope (which tickets and areas a
//! caller sees) is checked by each handler against the object, answering NOT_FOUND.

use wuzhang_domain::access::{Principal, Role};

use crate::ApiError;

/// Lets the caller in if their role is one the RPC is for. A role that may never call the
/// RPC gets PERMISSION_DENIED: it reveals nothing about any object.
pub fn admit<'p>(
    principal: &'p Principal,
    roles: &[Role],
    rpc: &'static str,
) -> Result<&'p Principal, ApiError> {
    if roles.contains(&principal.role) {
        Ok(principal)
    } else {
        Err(ApiError::PermissionDenied(format!(
            "role {} may not call {rpc}",
            principal.role
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_listed_roles() {
        let resident = Principal {
            subject: "r1".into(),
            role: Role::Resident,
            scope: vec![],
        };
        assert!(admit(&resident, &[Role::Resident, Role::Admin], "SubmitIncident").is_ok());
        let err = admit(&resident, &[Role::CommandCenter], "VerifyTicket").unwrap_err();
        assert!(matches!(err, ApiError::PermissionDenied(_)));
        assert_eq!(err.to_string(), "role resident may not call VerifyTicket");
    }
}
