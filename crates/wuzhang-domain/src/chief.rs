//! The five-chief chain (五长制) and who holds its posts.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

use crate::FieldError;
use crate::area::{AreaCode, AreaLevel, validate_code};

/// A level of the chain, from the bottom. The order matters: escalation only ever moves a
/// ticket to a greater level, and the command center is the top, where tickets stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChiefLevel {
    Unit,
    Building,
    Grid,
    Lane,
    Street,
    CommandCenter,
}

impl ChiefLevel {
    pub const ALL: [ChiefLevel; 6] = [
        ChiefLevel::Unit,
        ChiefLevel::Building,
        ChiefLevel::Grid,
        ChiefLevel::Lane,
        ChiefLevel::Street,
        ChiefLevel::CommandCenter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChiefLevel::Unit => "unit",
            ChiefLevel::Building => "building",
            ChiefLevel::Grid => "grid",
            ChiefLevel::Lane => "lane",
            ChiefLevel::Street => "street",
            ChiefLevel::CommandCenter => "command_center",
        }
    }

    /// The next level up, or `None` at the command center.
    pub fn up(self) -> Option<ChiefLevel> {
        match self {
            ChiefLevel::Unit => Some(ChiefLevel::Building),
            ChiefLevel::Building => Some(ChiefLevel::Grid),
            ChiefLevel::Grid => Some(ChiefLevel::Lane),
            ChiefLevel::Lane => Some(ChiefLevel::Street),
            ChiefLevel::Street => Some(ChiefLevel::CommandCenter),
            ChiefLevel::CommandCenter => None,
        }
    }

    /// The level of area whose post this is.
    pub fn area_level(self) -> AreaLevel {
        match self {
            ChiefLevel::Unit => AreaLevel::Unit,
            ChiefLevel::Building => AreaLevel::Building,
            ChiefLevel::Grid => AreaLevel::Grid,
            ChiefLevel::Lane => AreaLevel::Lane,
            ChiefLevel::Street => AreaLevel::Street,
            ChiefLevel::CommandCenter => AreaLevel::Subdistrict,
        }
    }

    /// The Chinese title, for people reading the dashboard and exports.
    pub fn title(self) -> &'static str {
        match self {
            ChiefLevel::Unit => "单元长",
            ChiefLevel::Building => "楼栋长",
            ChiefLevel::Grid => "网格长",
            ChiefLevel::Lane => "路巷长",
            ChiefLevel::Street => "街长",
            ChiefLevel::CommandCenter => "指挥中心",
        }
    }
}

impl std::str::FromStr for ChiefLevel {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChiefLevel::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            FieldError::new(
                "level",
                format!(
                    "unknown chief level {s:?}: expected unit, building, grid, lane, street or command_center"
                ),
            )
        })
    }
}

impl fmt::Display for ChiefLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a person on the roster (a chief or deputy). Chosen by the roster's owner,
/// e.g. an HR number; tokens for chiefs carry it as their subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonId(String);

impl PersonId {
    pub fn new(id: impl Into<String>) -> Result<Self, FieldError> {
        let id = id.into();
        validate_code(&id).map_err(|reason| FieldError::new("person_id", reason))?;
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<PersonId> for String {
    fn from(p: PersonId) -> String {
        p.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person who may hold posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    /// Mainland mobile number; shown to the command center, masked elsewhere.
    pub phone: Option<String>,
}

/// A stretch of time a post holder is away; their tickets go to the deputy or up the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeavePeriod {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl LeavePeriod {
    pub fn covers(&self, at: OffsetDateTime) -> bool {
        self.from <= at && at < self.until
    }
}

/// The chief post of one area. Every area with a chief level has at most one post; an
/// empty holder is a vacancy, which routing skips and the command center is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub area_code: AreaCode,
    pub level: ChiefLevel,
    pub holder: Option<PersonId>,
    /// Acts when the holder is on leave.
    pub deputy: Option<PersonId>,
    pub leave: Vec<LeavePeriod>,
}

impl Post {
    /// Who acts for this post at `at`: the holder unless on leave, else the deputy, else no
    /// one (the post counts as vacant at that moment).
    pub fn acting(&self, at: OffsetDateTime) -> Option<&PersonId> {
        let away = self.leave.iter().any(|p| p.covers(at));
        match &self.holder {
            Some(h) if !away => Some(h),
            // A deputy who is the holder is away too.
            holder => self.deputy.as_ref().filter(|d| Some(*d) != holder.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn levels_go_up_to_the_command_center() {
        let mut l = ChiefLevel::Unit;
        let mut n = 1;
        while let Some(next) = l.up() {
            assert!(next > l);
            assert_eq!(next.area_level().chief_level(), Some(next));
            l = next;
            n += 1;
        }
        assert_eq!(l, ChiefLevel::CommandCenter);
        assert_eq!(n, 6);
        for l in ChiefLevel::ALL {
            assert_eq!(l.as_str().parse::<ChiefLevel>().unwrap(), l);
        }
    }

    #[test]
    fn acting_person_honours_leave_and_deputy() {
        let holder = PersonId::new("p1").unwrap();
        let deputy = PersonId::new("p2").unwrap();
        let mut post = Post {
            area_code: AreaCode::new("g1").unwrap(),
            level: ChiefLevel::Grid,
            holder: Some(holder.clone()),
            deputy: None,
            leave: vec![LeavePeriod {
                from: datetime!(2026-10-01 0:00 UTC),
                until: datetime!(2026-10-08 0:00 UTC),
            }],
        };
        assert_eq!(post.acting(datetime!(2026-09-30 12:00 UTC)), Some(&holder));
        assert_eq!(post.acting(datetime!(2026-10-03 12:00 UTC)), None);
        post.deputy = Some(deputy.clone());
        assert_eq!(post.acting(datetime!(2026-10-03 12:00 UTC)), Some(&deputy));
        assert_eq!(post.acting(datetime!(2026-10-08 0:00 UTC)), Some(&holder));
        post.holder = None;
        assert_eq!(post.acting(datetime!(2026-09-30 12:00 UTC)), Some(&deputy));
    }
}
