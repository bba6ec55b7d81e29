//! Incident categories, in the spirit of CJ/T 214 (部件 components and 事件 events): each
//! says where in the chain a ticket starts, how long each level has, and on which clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::Duration;

use crate::FieldError;
use crate::area::validate_code;
use crate::chief::ChiefLevel;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn new(code: impl Into<String>) -> Result<Self, FieldError> {
        let code = code.into();
        validate_code(&code).map_err(|reason| FieldError::new("category_code", reason))?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// CJ/T 214 splits urban management cases into things (部件, e.g. a broken manhole cover)
/// and events (事件, e.g. illegal parking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    Component,
    Event,
}

/// The four time-limit kinds of the standards: how a category's durations are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// Wall-clock time, nights and holidays included (自然日).
    Natural,
    /// Wall-clock hours for emergencies (紧急时限).
    UrgentHours,
    /// Hours inside working time on working days (工作时).
    WorkingHours,
    /// Whole working days (工作日), holidays skipped and 调休 days counted.
    WorkingDays,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Natural => "natural",
            DeadlineKind::UrgentHours => "urgent_hours",
            DeadlineKind::WorkingHours => "working_hours",
            DeadlineKind::WorkingDays => "working_days",
        }
    }
}

impl std::str::FromStr for DeadlineKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "natural" => Ok(DeadlineKind::Natural),
            "urgent_hours" => Ok(DeadlineKind::UrgentHours),
            "working_hours" => Ok(DeadlineKind::WorkingHours),
            "working_days" => Ok(DeadlineKind::WorkingDays),
            other => Err(FieldError::new(
                "deadline_kind",
                format!("unknown kind {other:?}"),
            )),
        }
    }
}

impl CategoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryKind::Component => "component",
            CategoryKind::Event => "event",
        }
    }
}

impl std::str::FromStr for CategoryKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "component" => Ok(CategoryKind::Component),
            "event" => Ok(CategoryKind::Event),
            other => Err(FieldError::new("kind", format!("unknown kind {other:?}"))),
        }
    }
}

/// The calendar every clock runs on unless a category names another.
pub const DEFAULT_CALENDAR: &str = "cn";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub code: CategoryCode,
    pub name: String,
    /// Categories form a two-level taxonomy (大类/小类); the parent is for display.
    pub parent_code: Option<CategoryCode>,
    pub kind: CategoryKind,
    /// Where a ticket of this category starts in the chain.
    pub start_level: ChiefLevel,
    /// How long each level has to accept (签收).
    pub accept_within: Duration,
    /// How long each level has to resolve once assigned.
    pub resolve_within: Duration,
    pub deadline_kind: DeadlineKind,
    /// Urgent tickets go to the command center at once and to the grid chief in parallel.
    pub urgent: bool,
    pub calendar_code: String,
    /// Reports of this category within this distance and window of an open ticket are
    /// folded into it. Zero turns duplicate detection off.
    pub duplicate_radius_m: f64,
    pub duplicate_window: Duration,
    /// Inactive categories stay for old tickets but take no new reports.
    pub active: bool,
    /// A resident's rating with `not_solved` reopens the ticket (返工) at once, back to the
    /// owner who resolved it, instead of waiting in the command center's reopen queue. Off
    /// by default: the command center decides.
    #[serde(default)]
    pub reopen_on_not_solved: bool,
    /// Routes its tickets to the organization of this type serving the place
    /// ([`crate::organization::serving`]) instead of the chain, the grid chief following
    /// as 属地 responsible; the chain as usual where no such organization serves it.
    #[serde(default)]
    pub organization_type: Option<String>,
}

impl Category {
    pub fn validate(&self) -> Result<(), FieldError> {
        let n = self.name.chars().count();
        if n == 0 || n > 100 {
            return Err(FieldError::new("name", "must be 1 to 100 characters"));
        }
        if self.accept_within <= Duration::ZERO {
            return Err(FieldError::new("accept_within", "must be positive"));
        }
        if self.resolve_within <= Duration::ZERO {
            return Err(FieldError::new("resolve_within", "must be positive"));
        }
        if self.accept_within > Duration::days(366) || self.resolve_within > Duration::days(366) {
            return Err(FieldError::new("resolve_within", "must be at most a year"));
        }
        if !self.duplicate_radius_m.is_finite()
            || !(0.0..=10_000.0).contains(&self.duplicate_radius_m)
        {
            return Err(FieldError::new(
                "duplicate_radius_m",
                "must be within [0, 10000] metres",
            ));
        }
        if self.duplicate_window < Duration::ZERO {
            return Err(FieldError::new("duplicate_window", "must not be negative"));
        }
        validate_code(&self.calendar_code)
            .map_err(|reason| FieldError::new("calendar_code", reason))?;
        if let Some(t) = &self.organization_type {
            validate_code(t).map_err(|reason| FieldError::new("organization_type", reason))?;
        }
        if self.parent_code.as_ref() == Some(&self.code) {
            return Err(FieldError::new(
                "parent_code",
                "a category cannot be its own parent",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Category {
        Category {
            code: CategoryCode::new("0101").unwrap(),
            name: "暴露垃圾".into(),
            parent_code: Some(CategoryCode::new("01").unwrap()),
            kind: CategoryKind::Event,
            start_level: ChiefLevel::Grid,
            accept_within: Duration::hours(2),
            resolve_within: Duration::hours(24),
            deadline_kind: DeadlineKind::Natural,
            urgent: false,
            calendar_code: DEFAULT_CALENDAR.into(),
            duplicate_radius_m: 50.0,
            duplicate_window: Duration::hours(24),
            active: true,
            reopen_on_not_solved: false,
            organization_type: None,
        }
    }

    #[test]
    fn categories_are_validated() {
        assert!(sample().validate().is_ok());
        let bad = Category {
            accept_within: Duration::ZERO,
            ..sample()
        };
        assert_eq!(bad.validate().unwrap_err().field, "accept_within");
        let bad = Category {
            duplicate_radius_m: f64::NAN,
            ..sample()
        };
        assert_eq!(bad.validate().unwrap_err().field, "duplicate_radius_m");
        let bad = Category {
            name: String::new(),
            ..sample()
        };
        assert_eq!(bad.validate().unwrap_err().field, "name");
        let bad = Category {
            parent_code: Some(sample().code),
            ..sample()
        };
        assert_eq!(bad.validate().unwrap_err().field, "parent_code");
        for k in ["natural", "urgent_hours", "working_hours", "working_days"] {
            assert_eq!(k.parse::<DeadlineKind>().unwrap().as_str(), k);
        }
    }
}
