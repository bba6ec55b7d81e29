//! Campaigns (专项行动): one task fanned out to every chief of one level under an area — a
//! door-to-door check, a screening, a cleanup. Each task is an ordinary ticket held by its
//! chief (so its clocks, escalation and evaluation are those of any ticket), linked to the
//! campaign, and resolved with a structured result: counts and a checklist.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::FieldError;
use crate::area::AreaCode;
use crate::category::CategoryCode;
use crate::chief::ChiefLevel;

/// Longest title.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most checklist items and most counts a campaign asks for.
pub const MAX_ITEMS: usize = 50;
/// Longest checklist item or count name.
pub const MAX_ITEM_CHARS: usize = 100;
/// Most tasks one campaign fans out to (a district's units).
pub const MAX_TASKS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CampaignId(Uuid);

impl CampaignId {
    /// A new id whose leading bits are the creation time.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(crate::ticket::time_ordered_uuid(at))
    }

    pub fn from_uuid(u: Uuid) -> Self {
        Self(u)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::str::FromStr for CampaignId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| FieldError::new("campaign_id", "must be a UUID"))
    }
}

impl std::fmt::Display for CampaignId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A campaign as the command center defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub subdistrict_code: AreaCode,
    /// Every post of `level` under this area (itself included) gets a task.
    pub area_code: AreaCode,
    /// Grid, building or unit chiefs.
    pub level: ChiefLevel,
    pub title: String,
    pub instructions: String,
    /// The tasks' category: their accept clock and, after an escalation, their clocks.
    pub category_code: CategoryCode,
    /// What each task asks to tick off.
    pub checklist: Vec<String>,
    /// The counts each task reports (e.g. 入户数, 隐患数).
    pub counts: Vec<String>,
    /// The tasks' resolve deadline.
    pub deadline: OffsetDateTime,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    /// How many tasks were fanned out.
    pub tasks: u32,
}

impl Campaign {
    /// Checks what the request gave: the title, the level, the lists, the deadline.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(), FieldError> {
        let title = self.title.trim().chars().count();
        if title == 0 || title > MAX_TITLE_CHARS {
            return Err(FieldError::new(
                "title",
                format!("must be 1 to {MAX_TITLE_CHARS} characters"),
            ));
        }
        if self.instructions.chars().count() > crate::ticket::MAX_DESCRIPTION_CHARS {
            return Err(FieldError::new(
                "instructions",
                format!(
                    "must be at most {} characters",
                    crate::ticket::MAX_DESCRIPTION_CHARS
                ),
            ));
        }
        if !matches!(
            self.level,
            ChiefLevel::Grid | ChiefLevel::Building | ChiefLevel::Unit
        ) {
            return Err(FieldError::new(
                "level",
                "must be CHIEF_LEVEL_GRID, CHIEF_LEVEL_BUILDING or CHIEF_LEVEL_UNIT",
            ));
        }
        for (field, items) in [("checklist", &self.checklist), ("counts", &self.counts)] {
            if items.len() > MAX_ITEMS {
                return Err(FieldError::new(
                    field,
                    format!("must have at most {MAX_ITEMS} items"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let n = item.trim().chars().count();
                if n == 0 || n > MAX_ITEM_CHARS {
                    return Err(FieldError::new(
                        format!("{field}[{i}]"),
                        format!("must be 1 to {MAX_ITEM_CHARS} characters"),
                    ));
                }
                if !seen.insert(item.as_str()) {
                    return Err(FieldError::new(format!("{field}[{i}]"), "repeats an item"));
                }
            }
        }
        if self.deadline <= now || self.deadline > now + time::Duration::days(366) {
            return Err(FieldError::new(
                "deadline",
                "must be in the future, at most 366 days ahead",
            ));
        }
        Ok(())
    }

    /// Checks a task's result against what the campaign asks: known count names with
    /// values 0 or more, known checklist items, each once.
    pub fn check_result(&self, result: &TaskResult) -> Result<(), FieldError> {
        let mut seen = std::collections::HashSet::new();
        for (name, value) in &result.counts {
            if !self.counts.contains(name) {
                return Err(FieldError::new(
                    format!("task_result.counts[{name}]"),
                    "is not a count this campaign asks for",
                ));
            }
            if *value < 0 {
                return Err(FieldError::new(
                    format!("task_result.counts[{name}]"),
                    "must be 0 or more",
                ));
            }
            if !seen.insert(name) {
                return Err(FieldError::new(
                    format!("task_result.counts[{name}]"),
                    "is given twice",
                ));
            }
        }
        let mut ticked = std::collections::HashSet::new();
        for item in &result.checked {
            if !self.checklist.contains(item) {
                return Err(FieldError::new(
                    "task_result.checked",
                    format!("{item:?} is not on this campaign's checklist"),
                ));
            }
            if !ticked.insert(item) {
                return Err(FieldError::new(
                    "task_result.checked",
                    format!("{item:?} is given twice"),
                ));
            }
        }
        Ok(())
    }
}

/// What a chief reports when resolving a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// (count name, value), in the order given.
    pub counts: Vec<(String, i64)>,
    /// Checklist items done.
    pub checked: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 +8);

    fn campaign() -> Campaign {
        Campaign {
            id: CampaignId::new(NOW),
            subdistrict_code: AreaCode::new("220102001").unwrap(),
            area_code: AreaCode::new("220102001").unwrap(),
            level: ChiefLevel::Grid,
            title: "燃气安全入户排查".into(),
            instructions: String::new(),
            category_code: CategoryCode::new("E0403").unwrap(),
            checklist: vec!["燃气报警器".into(), "软管老化".into()],
            counts: vec!["入户数".into(), "隐患数".into()],
            deadline: NOW + time::Duration::days(3),
            created_by: "cc".into(),
            created_at: NOW,
            tasks: 0,
        }
    }

    #[test]
    fn a_campaign_is_checked_field_by_field() {
        assert!(campaign().validate(NOW).is_ok());
        let field = |c: Campaign| c.validate(NOW).unwrap_err().field;
        assert_eq!(
            field(Campaign {
                title: " ".into(),
                ..campaign()
            }),
            "title"
        );
        assert_eq!(
            field(Campaign {
                level: ChiefLevel::Street,
                ..campaign()
            }),
            "level"
        );
        assert_eq!(
            field(Campaign {
                checklist: vec!["a".into(), "a".into()],
                ..campaign()
            }),
            "checklist[1]"
        );
        assert_eq!(
            field(Campaign {
                counts: vec![String::new()],
                ..campaign()
            }),
            "counts[0]"
        );
        assert_eq!(
            field(Campaign {
                deadline: NOW,
                ..campaign()
            }),
            "deadline"
        );
    }

    #[test]
    fn a_result_names_only_what_the_campaign_asks() {
        let c = campaign();
        let ok = TaskResult {
            counts: vec![("入户数".into(), 40), ("隐患数".into(), 2)],
            checked: vec!["软管老化".into()],
        };
        assert!(c.check_result(&ok).is_ok());
        let unknown = TaskResult {
            counts: vec![("人口".into(), 1)],
            ..TaskResult::default()
        };
        assert_eq!(
            c.check_result(&unknown).unwrap_err().field,
            "task_result.counts[人口]"
        );
        let negative = TaskResult {
            counts: vec![("入户数".into(), -1)],
            ..TaskResult::default()
        };
        assert!(c.check_result(&negative).is_err());
        let not_listed = TaskResult {
            checked: vec!["门窗".into()],
            ..TaskResult::default()
        };
        assert_eq!(
            c.check_result(&not_listed).unwrap_err().field,
            "task_result.checked"
        );
    }
}
