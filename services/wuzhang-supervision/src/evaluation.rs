//! 考评: GetEvaluation, read from the rollups the event log is folded into
//! ([`wuzhang_app::rollups`]), with the rules of `docs/evaluation.md` in the domain
//! ([`wuzhang_domain::evaluation`]).

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};
use wuzhang_app::ApiError;
use wuzhang_app::organizations;
use wuzhang_app::rollups::CaughtUp;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::PersonId;
use wuzhang_domain::evaluation::{Indicators, Scope, day_start, local_day};
use wuzhang_proto::convert;
use wuzhang_proto::v1::{
    Evaluation, EvaluationFormat, EvaluationPeriod, EvaluationRow, EvaluationScope,
    GetEvaluationRequest,
};
use wuzhang_store::{EvaluationQuery, EvaluationTotals};

use crate::Supervision;
use crate::scope::subdistricts_of;

/// The longest period one call covers.
const MAX_PERIOD_DAYS: i64 = 366;

impl Supervision {
    pub(crate) async fn evaluation(
        &self,
        caller: &Principal,
        r: GetEvaluationRequest,
    ) -> Result<Evaluation, ApiError> {
        let scope = match EvaluationScope::try_from(r.group_by) {
            Ok(EvaluationScope::Chief) => Scope::Chief,
            Ok(EvaluationScope::Grid) => Scope::Grid,
            Ok(EvaluationScope::Lane) => Scope::Lane,
            Ok(EvaluationScope::Street) => Scope::Street,
            Ok(EvaluationScope::Subdistrict) => Scope::Subdistrict,
            Ok(EvaluationScope::Organization) => Scope::Organization,
            Ok(EvaluationScope::Unspecified) => {
                return Err(ApiError::invalid("group_by", "is required"));
            }
            Err(_) => return Err(ApiError::invalid("group_by", "is not a known scope")),
        };
        let csv = match EvaluationFormat::try_from(r.format) {
            Ok(EvaluationFormat::Csv) => true,
            Ok(_) => false,
            Err(_) => return Err(ApiError::invalid("format", "is not a known format")),
        };
        let (period, emergency) = match EvaluationPeriod::try_from(r.period) {
            Ok(EvaluationPeriod::Unspecified | EvaluationPeriod::All) => {
                (EvaluationPeriod::All, None)
            }
            Ok(EvaluationPeriod::Peacetime) => (EvaluationPeriod::Peacetime, Some(false)),
            Ok(EvaluationPeriod::Emergency) => (EvaluationPeriod::Emergency, Some(true)),
            Err(_) => return Err(ApiError::invalid("period", "is not a known period")),
        };
        let start = midnight("period_start", r.period_start.as_ref())?;
        let end = midnight("period_end", r.period_end.as_ref())?;
        if end <= start {
            return Err(ApiError::invalid(
                "period_end",
                "must be after period_start",
            ));
        }
        if end - start > Duration::days(MAX_PERIOD_DAYS) {
            return Err(ApiError::invalid(
                "period_end",
                format!("must be at most {MAX_PERIOD_DAYS} days after period_start"),
            ));
        }
        // Who may see which rows: a chief their own, a command center its subdistrict's,
        // an admin any subdistrict's, or every subdistrict's side by side.
        let (subdistricts, only_key) = match caller.role {
            Role::Chief => {
                if scope != Scope::Chief {
                    return Err(ApiError::PermissionDenied(
                        "a chief reads their own row: group_by EVALUATION_SCOPE_CHIEF".into(),
                    ));
                }
                let named = (!r.subdistrict_code.is_empty())
                    .then(|| {
                        AreaCode::new(&r.subdistrict_code)
                            .map_err(|e| ApiError::invalid("subdistrict_code", e.reason))
                    })
                    .transpose()?;
                (
                    named.into_iter().collect(),
                    Some(vec![caller.subject.clone()]),
                )
            }
            // Organization staff read their organizations' rows, in any subdistrict they
            // name (or all).
            Role::Organization => {
                if scope != Scope::Organization {
                    return Err(ApiError::PermissionDenied(
                        "organization staff read their organization's row: group_by \
                         EVALUATION_SCOPE_ORGANIZATION"
                            .into(),
                    ));
                }
                let named = (!r.subdistrict_code.is_empty())
                    .then(|| {
                        AreaCode::new(&r.subdistrict_code)
                            .map_err(|e| ApiError::invalid("subdistrict_code", e.reason))
                    })
                    .transpose()?;
                let all = self.store.organizations().await?;
                let mine = organizations::staff_of(caller, &all)
                    .into_iter()
                    .map(|o| o.code.to_string())
                    .collect();
                (named.into_iter().collect(), Some(mine))
            }
            _ => {
                let subs = subdistricts_of(caller, &r.subdistrict_code)?;
                if subs.is_empty() && scope != Scope::Subdistrict {
                    return Err(ApiError::invalid(
                        "subdistrict_code",
                        "is required unless group_by is EVALUATION_SCOPE_SUBDISTRICT",
                    ));
                }
                (subs, None)
            }
        };
        // The figures include every event stored before this call, or the call says why not.
        if let CaughtUp::Behind { cursor, head } = self.rollups.catch_up().await? {
            return Err(ApiError::Unavailable(format!(
                "the evaluation rollups are folding a backlog ({} events behind the log, \
                 after a first start on a store with history or a rebuild); try again later",
                head - cursor
            )));
        }
        let totals = self
            .store
            .evaluation_totals(&EvaluationQuery {
                subdistrict_codes: subdistricts.clone(),
                scope,
                from: local_day(start),
                until: local_day(end),
                emergency,
            })
            .await?;
        let totals: Vec<EvaluationTotals> = match &only_key {
            Some(keys) => totals
                .into_iter()
                .filter(|t| keys.contains(&t.key))
                .collect(),
            None => totals,
        };
        let names = self.names(scope, &totals).await?;
        let rows: Vec<EvaluationRow> = totals
            .iter()
            .zip(names)
            .map(|(t, name)| self.row(t, name))
            .collect();
        let csv = if csv { to_csv(&rows) } else { Vec::new() };
        Ok(Evaluation {
            subdistrict_code: match subdistricts.as_slice() {
                [one] => one.to_string(),
                _ => String::new(),
            },
            period_start: Some(convert::timestamp(start)),
            period_end: Some(convert::timestamp(end)),
            group_by: r.group_by,
            rows,
            csv,
            generated_at: Some(convert::timestamp(self.clock.now())),
            period: period as i32,
        })
    }

    /// The display name of each row's key, in order ("" for a key no longer known).
    async fn names(
        &self,
        scope: Scope,
        totals: &[EvaluationTotals],
    ) -> Result<Vec<String>, ApiError> {
        let store = self.store.as_ref();
        if scope == Scope::Chief {
            let ids: Vec<PersonId> = totals
                .iter()
                .filter_map(|t| PersonId::new(&t.key).ok())
                .collect();
            let names: HashMap<String, String> = store
                .get_persons(&ids)
                .await?
                .into_iter()
                .map(|p| (p.id.as_str().to_owned(), p.name))
                .collect();
            Ok(name_each(totals, &names))
        } else if scope == Scope::Organization {
            let names: HashMap<String, String> = store
                .organizations()
                .await?
                .into_iter()
                .map(|o| (o.code.to_string(), o.name))
                .collect();
            Ok(name_each(totals, &names))
        } else {
            let codes: Vec<AreaCode> = totals
                .iter()
                .filter_map(|t| AreaCode::new(&t.key).ok())
                .collect();
            let names: HashMap<String, String> = store
                .get_areas(&codes)
                .await?
                .into_iter()
                .map(|a| (a.code.as_str().to_owned(), a.name))
                .collect();
            Ok(name_each(totals, &names))
        }
    }

    fn row(&self, t: &EvaluationTotals, name: String) -> EvaluationRow {
        let f = &t.figures;
        let i = Indicators::of(f, &self.weights);
        let secs = |s: f64| convert::duration(Duration::seconds_f64(s.round()));
        EvaluationRow {
            key: t.key.clone(),
            name,
            received: f.received,
            accepted_on_time_pct: i.accepted_on_time_pct,
            resolved_on_time_pct: i.resolved_on_time_pct,
            reopen_rate: i.reopen_rate,
            satisfaction_rate: i.satisfaction_rate,
            mean_handling_time: Some(secs(i.mean_handling_seconds)),
            escalations: f.escalations,
            supervision_orders: f.supervision_orders,
            accepted: f.accepted,
            resolved: f.resolved,
            rated: f.rated,
            level: t.level.map_or(0, |l| convert::chief_level(l) as i32),
            reported: f.reported,
            accepted_on_time: f.accepted_on_time,
            resolved_on_time: f.resolved_on_time,
            reopened: f.reopened,
            satisfied: f.satisfied,
            closed: f.closed,
            closed_on_time: f.closed_on_time,
            overdue: f.overdue,
            resolution_rate: i.resolution_rate,
            closed_on_time_pct: i.closed_on_time_pct,
            mean_response_time: Some(secs(i.mean_response_seconds)),
            score: i.score,
        }
    }
}

/// Each row's display name by its key ("" for a key no longer known).
fn name_each(totals: &[EvaluationTotals], names: &HashMap<String, String>) -> Vec<String> {
    totals
        .iter()
        .map(|t| names.get(&t.key).cloned().unwrap_or_default())
        .collect()
}

/// A period bound: required, and a local midnight (figures are kept by local day).
fn midnight(
    field: &'static str,
    t: Option<&prost_types::Timestamp>,
) -> Result<OffsetDateTime, ApiError> {
    let t = t.ok_or_else(|| ApiError::invalid(field, "is required"))?;
    let t = convert::from_timestamp(field, t).map_err(ApiError::from)?;
    if day_start(local_day(t)) != t {
        return Err(ApiError::invalid(
            field,
            format!(
                "must be a local midnight (Asia/Shanghai, UTC+8), e.g. {}: figures are kept by day",
                day_start(local_day(t))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(t)
}

/// The rows as CSV: a header of EvaluationRow's field names, durations in seconds,
/// percentages 0–100. Keys and names are quoted when they need it (RFC 4180).
fn to_csv(rows: &[EvaluationRow]) -> Vec<u8> {
    let mut out = String::from(
        "key,name,level,received,reported,accepted,accepted_on_time,accepted_on_time_pct,\
         resolved,resolved_on_time,resolved_on_time_pct,resolution_rate,closed,closed_on_time,\
         closed_on_time_pct,reopened,reopen_rate,rated,satisfied,satisfaction_rate,overdue,\
         escalations,supervision_orders,mean_response_time,mean_handling_time,score\n",
    );
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let secs = |d: &Option<prost_types::Duration>| d.as_ref().map_or(0, |d| d.seconds);
    let level = |l: i32| {
        wuzhang_proto::v1::ChiefLevel::try_from(l)
            .ok()
            .filter(|l| *l != wuzhang_proto::v1::ChiefLevel::Unspecified)
            .map_or(String::new(), |l| l.as_str_name().to_owned())
    };
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{:.2},{},{},{:.2},{:.2},{},{},{:.2},{},{:.2},{},{},{:.2},{},{},{},{},{},{:.2}\n",
            quote(&r.key),
            quote(&r.name),
            level(r.level),
            r.received,
            r.reported,
            r.accepted,
            r.accepted_on_time,
            r.accepted_on_time_pct,
            r.resolved,
            r.resolved_on_time,
            r.resolved_on_time_pct,
            r.resolution_rate,
            r.closed,
            r.closed_on_time,
            r.closed_on_time_pct,
            r.reopened,
            r.reopen_rate,
            r.rated,
            r.satisfied,
            r.satisfaction_rate,
            r.overdue,
            r.escalations,
            r.supervision_orders,
            secs(&r.mean_response_time),
            secs(&r.mean_handling_time),
            r.score,
        ));
    }
    out.into_bytes()
}
