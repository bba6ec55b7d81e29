//! SetEmergencyMode: a subdistrict (or, for an administrator, every subdistrict of a
//! district) into emergency mode (战时) and back, its open tickets' clocks carried over (`wuzhang_app::emergency`; the rules in `docs/emergency.md`).

use wuzhang_app::ApiError;
use wuzhang_app::emergency::switch_emergency_mode;
use wuzhang_app::idempotency::{Key, Recording, once};
use wuzhang_app::request::request_id;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::emergency::{ClockRate, EmergencyMode};
use wuzhang_domain::ticket::check_text;
use wuzhang_proto::convert;
use wuzhang_proto::v1 as pb;
use wuzhang_store::StoreError;

use crate::Supervision;
use crate::scope::subdistricts_of;

/// The longest reason kept with a switch.
const MAX_REASON_CHARS: usize = 500;

impl Supervision {
    pub(crate) async fn set_emergency_mode(
        &self,
        caller: &Principal,
        r: pb::SetEmergencyModeRequest,
    ) -> Result<pb::EmergencyModeState, ApiError> {
        let rid = request_id(&r.request_id)?;
        if !r.district_code.is_empty() {
            return self.set_district_mode(caller, r).await;
        }
        let sub = subdistricts_of(caller, &r.subdistrict_code)?
            .pop()
            .ok_or_else(|| ApiError::invalid("subdistrict_code", "is required"))?;
        let rate = rate_of(&r)?;
        let store = self.store.as_ref();
        check_level(self, &sub, AreaLevel::Subdistrict, "subdistrict_code").await?;
        let key = Key::new(caller, "SetEmergencyMode", rid, &r);
        // Recorded after the effect: a retry after a crash switches again to the same
        // mode, which finishes a carry-over left half done and changes nothing else.
        once(
            store,
            &key,
            Recording::AfterTheEffect(self.clock.as_ref()),
            || async {
                let mode = EmergencyMode {
                    rate,
                    since: self.clock.now(),
                    switched_by: caller.subject.clone(),
                    reason: r.reason.trim().to_owned(),
                };
                let rescaled = switch_emergency_mode(
                    store,
                    &self.commands,
                    &sub,
                    &mode,
                    self.reference_refresh,
                )
                .await?;
                Ok(mode_state(&sub, Some(&mode), rescaled))
            },
        )
        .await
    }
}

impl Supervision {
    /// An administrator's switch of every subdistrict of a district, one after the other
    /// (each as if switched alone: a retry finishes what a failure left).
    async fn set_district_mode(
        &self,
        caller: &Principal,
        r: pb::SetEmergencyModeRequest,
    ) -> Result<pb::EmergencyModeState, ApiError> {
        if caller.role != Role::Admin {
            return Err(ApiError::PermissionDenied(
                "a whole district is an administrator's to switch; a command center names its \
                 subdistrict"
                    .into(),
            ));
        }
        if !r.subdistrict_code.is_empty() {
            return Err(ApiError::invalid(
                "subdistrict_code",
                "name a subdistrict or a district, not both",
            ));
        }
        let district = AreaCode::new(&r.district_code)
            .map_err(|e| ApiError::invalid("district_code", e.reason))?;
        let rate = rate_of(&r)?;
        let store = self.store.as_ref();
        check_level(self, &district, AreaLevel::District, "district_code").await?;
        let subs: Vec<AreaCode> = store
            .subtree(&district, AreaLevel::Subdistrict)
            .await?
            .into_iter()
            .filter(|a| a.level == AreaLevel::Subdistrict)
            .map(|a| a.code)
            .collect();
        let key = Key::new(caller, "SetEmergencyMode", request_id(&r.request_id)?, &r);
        once(
            store,
            &key,
            Recording::AfterTheEffect(self.clock.as_ref()),
            || async {
                let mode = EmergencyMode {
                    rate,
                    since: self.clock.now(),
                    switched_by: caller.subject.clone(),
                    reason: r.reason.trim().to_owned(),
                };
                let mut rescaled = 0;
                for sub in &subs {
                    rescaled += switch_emergency_mode(
                        store,
                        &self.commands,
                        sub,
                        &mode,
                        self.reference_refresh,
                    )
                    .await?;
                }
                let mut state = mode_state(&district, Some(&mode), rescaled);
                state.subdistrict_code = String::new();
                state.subdistrict_codes = subs.iter().map(ToString::to_string).collect();
                Ok(state)
            },
        )
        .await
    }
}

/// That `code` (from `field`) is an area of `level`: INVALID_ARGUMENT naming the field if
/// it is another level's, NOT_FOUND if there is none.
async fn check_level(
    s: &Supervision,
    code: &AreaCode,
    level: AreaLevel,
    field: &str,
) -> Result<(), ApiError> {
    match s.store.get_area(code).await {
        Ok(a) if a.level == level => Ok(()),
        Ok(_) => Err(ApiError::invalid(field, format!("is not a {level}'s code"))),
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found(format!("{level} {code}"))),
        Err(e) => Err(e.into()),
    }
}

/// The rate a switch asks for, and its reason checked.
fn rate_of(r: &pb::SetEmergencyModeRequest) -> Result<ClockRate, ApiError> {
    let rate = if r.emergency {
        ClockRate::emergency_factor("factor", r.factor).map_err(ApiError::from)?
    } else if r.factor != 0.0 {
        return Err(ApiError::invalid(
            "factor",
            "must be unset (0) when switching back to peacetime",
        ));
    } else {
        ClockRate::PEACETIME
    };
    check_text("reason", &r.reason, MAX_REASON_CHARS, true).map_err(ApiError::from)?;
    Ok(rate)
}

/// A subdistrict's mode as the API shows it (`None`: never switched, peacetime).
pub(crate) fn mode_state(
    sub: &AreaCode,
    mode: Option<&EmergencyMode>,
    rescaled: u64,
) -> pb::EmergencyModeState {
    pb::EmergencyModeState {
        subdistrict_code: sub.to_string(),
        emergency: mode.is_some_and(EmergencyMode::is_on),
        factor: mode.map_or(1.0, |m| m.rate.factor()),
        since: mode.map(|m| convert::timestamp(m.since)),
        switched_by: mode.map(|m| m.switched_by.clone()).unwrap_or_default(),
        reason: mode.map(|m| m.reason.clone()).unwrap_or_default(),
        rescaled_tickets: i64::try_from(rescaled).unwrap_or(i64::MAX),
        subdistrict_codes: Vec::new(),
    }
}
