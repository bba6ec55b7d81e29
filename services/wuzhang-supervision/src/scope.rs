//! Which tickets and subdistricts a caller commands, and one command on a ticket in scope.

use wuzhang_app::ApiError;
use wuzhang_app::command::{Call, read_ticket};
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::ticket::{Applied, Command, Ticket, TicketId};
use wuzhang_proto::convert::{self, PhoneVisibility};

use wuzhang_proto::v1 as pb;

use crate::Supervision;

impl Supervision {
    /// The ticket, if it is in the caller's command: its subdistrict's command center, or
    /// an administrator. Anything else does not exist for the caller.
    pub(crate) async fn in_command(
        &self,
        caller: &Principal,
        id: &TicketId,
    ) -> Result<Ticket, ApiError> {
        let ticket = read_ticket(self.store.as_ref(), id).await?;
        match caller.role {
            Role::Admin => Ok(ticket),
            Role::CommandCenter if caller.commands_subdistrict(&ticket.subdistrict_code) => {
                Ok(ticket)
            }
            _ => Err(ApiError::not_found(format!("ticket {id}"))),
        }
    }

    /// Runs one command on a ticket in the caller's command. The command center calls the
    /// resident back, so its answers show the phone in full.
    pub(crate) async fn command(
        &self,
        call: Call<'_, impl prost::Message>,
        decide: impl FnOnce(&mut Ticket, time::OffsetDateTime) -> Result<Applied, ApiError> + Send,
    ) -> Result<pb::Ticket, ApiError> {
        let caller = call.caller;
        let now = self.clock.now();
        self.commands
            .run(
                call,
                |id| async move { Ok((self.in_command(caller, &id).await?, ())) },
                |_, ()| Ok(()),
                |t, ()| convert::ticket(t, PhoneVisibility::Full, now),
                decide,
            )
            .await
    }

    /// Runs `command` with `note` as its event's note; the clocks follow the domain.
    pub(crate) async fn apply(
        &self,
        call: Call<'_, impl prost::Message>,
        command: Command,
        note: &str,
    ) -> Result<pb::Ticket, ApiError> {
        let actor = call.caller.subject.clone();
        self.command(call, move |t, now| Ok(t.apply(command, &actor, note, now)?))
            .await
    }
}

/// An optional identifier field: empty means not given; anything else must parse.
pub(crate) fn optional<T>(
    value: &str,
    parse: impl FnOnce(String) -> Result<T, wuzhang_domain::FieldError>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value.to_owned())
        .map(Some)
        .map_err(|e| ApiError::invalid(field, e.reason))
}

/// The subdistricts a command-center listing covers: the one named (NOT_FOUND if the
/// caller does not command it, as if it did not exist), else the caller's only one; an
/// administrator who names none sees all.
pub(crate) fn subdistricts_of(caller: &Principal, named: &str) -> Result<Vec<AreaCode>, ApiError> {
    if !named.is_empty() {
        let code =
            AreaCode::new(named).map_err(|e| ApiError::invalid("subdistrict_code", e.reason))?;
        if !caller.commands_subdistrict(&code) {
            return Err(ApiError::not_found(format!("subdistrict {code}")));
        }
        return Ok(vec![code]);
    }
    match (caller.role, caller.scope.as_slice()) {
        (Role::Admin, _) => Ok(Vec::new()),
        (_, [only]) => Ok(vec![only.clone()]),
        _ => Err(ApiError::invalid(
            "subdistrict_code",
            "is required: you command more than one subdistrict",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn center(scope: &[&str]) -> Principal {
        Principal {
            subject: "cc-1".into(),
            role: Role::CommandCenter,
            scope: scope.iter().map(|c| AreaCode::new(*c).unwrap()).collect(),
        }
    }

    #[test]
    fn a_listing_covers_the_subdistricts_commanded() {
        let one = center(&["220102001"]);
        assert_eq!(
            subdistricts_of(&one, "").unwrap(),
            [AreaCode::new("220102001").unwrap()]
        );
        assert_eq!(subdistricts_of(&one, "220102001").unwrap().len(), 1);
        // Another subdistrict does not exist for this caller.
        assert!(matches!(
            subdistricts_of(&one, "220102002"),
            Err(ApiError::NotFound(_))
        ));
        // Commanding two, the caller must say which.
        let two = center(&["220102001", "220102002"]);
        let err = subdistricts_of(&two, "").unwrap_err();
        assert!(matches!(&err, ApiError::Invalid(v) if v[0].field == "subdistrict_code"));
        assert_eq!(subdistricts_of(&two, "220102002").unwrap().len(), 1);
        // An administrator naming none sees all.
        let admin = Principal {
            subject: "admin".into(),
            role: Role::Admin,
            scope: vec![],
        };
        assert!(subdistricts_of(&admin, "").unwrap().is_empty());
        assert!(matches!(
            subdistricts_of(&one, "not a code!"),
            Err(ApiError::Invalid(v)) if v[0].field == "subdistrict_code"
        ));
    }

    #[test]
    fn an_optional_field_is_absent_when_empty_and_named_when_bad() {
        assert_eq!(optional("", AreaCode::new, "grid_code").unwrap(), None);
        assert_eq!(
            optional("220102001001", AreaCode::new, "grid_code").unwrap(),
            Some(AreaCode::new("220102001001").unwrap())
        );
        assert!(matches!(
            optional("bad code", AreaCode::new, "grid_code"),
            Err(ApiError::Invalid(v)) if v[0].field == "grid_code"
        ));
    }
}
