//! The categories a fresh installation starts with, so residents can report from the first
//! minute. Modelled on CJ/T 214-2007 (数字化城市管理信息系统 管理部件和事件): components
//! (部件, things: manhole covers, street lights, trees) and events (事件, happenings:
//! exposed rubbish, street vending, road collapse), plus a group for the neighbourhood
//! matters the five-chief chain handles below the grid (邻里纠纷, 楼道堆物, …).
//!
//! Codes: `C` + the CJ/T 214 component group (two digits) [+ item], `E` + the event group
//! [+ item], `N` for neighbourhood matters. The standard numbers components and events
//! separately, so the letter keeps them apart. Administrators change any of it with
//! `AdminService.UpsertCategory`; these are only the defaults.
//!
//! Start levels follow who can act: a unit or building chief for things inside a building,
//! the grid chief for most street-level problems, the road/lane chief for traffic and
//! vending on the road, and urgent events (road collapse, burst mains, fire) go to the
//! command center at once with the grid chief in parallel.

use time::Duration;

use crate::category::{Category, CategoryCode, CategoryKind, DEFAULT_CALENDAR, DeadlineKind};
use crate::chief::ChiefLevel;

/// How a row's clocks run.
#[derive(Clone, Copy)]
enum Clock {
    /// Urgent: hours on the wall clock.
    Urgent { accept_min: i64, resolve_h: i64 },
    /// Accept within hours of working time; resolve within working days.
    Days { accept_h: i64, resolve_d: i64 },
    /// Accept and resolve within hours of working time.
    Hours { accept_h: i64, resolve_h: i64 },
    /// Natural days (nights and holidays count), for things that cannot wait for Monday.
    Natural { accept_h: i64, resolve_d: i64 },
}

struct Row {
    code: &'static str,
    name: &'static str,
    parent: Option<&'static str>,
    kind: CategoryKind,
    start: ChiefLevel,
    clock: Clock,
    /// Reports within this many metres (and 24 h) of an open one are merged into it; 0 = off.
    dup_m: f64,
}

use CategoryKind::{Component as C, Event as E};
use ChiefLevel::{Building, Grid, Lane, Street, Unit};

const fn row(
    code: &'static str,
    name: &'static str,
    parent: Option<&'static str>,
    kind: CategoryKind,
    start: ChiefLevel,
    clock: Clock,
    dup_m: f64,
) -> Row {
    Row {
        code,
        name,
        parent,
        kind,
        start,
        clock,
        dup_m,
    }
}

const STD: Clock = Clock::Days {
    accept_h: 2,
    resolve_d: 3,
};
const QUICK: Clock = Clock::Hours {
    accept_h: 1,
    resolve_h: 8,
};
const SLOW: Clock = Clock::Days {
    accept_h: 4,
    resolve_d: 10,
};
const NIGHT: Clock = Clock::Natural {
    accept_h: 1,
    resolve_d: 2,
};
const URGENT: Clock = Clock::Urgent {
    accept_min: 15,
    resolve_h: 4,
};

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // 部件 components (CJ/T 214 大类 01–06).
    row("C01", "公用设施", None, C, Grid, STD, 30.0),
    row("C0101", "井盖缺失或破损", Some("C01"), C, Grid, NIGHT, 20.0),
    row("C0102", "路灯损坏", Some("C01"), C, Grid, STD, 20.0),
    row("C0103", "消防栓损坏", Some("C01"), C, Grid, NIGHT, 20.0),
    row("C0104", "垃圾箱损坏", Some("C01"), C, Grid, STD, 20.0),
    row("C0105", "公厕设施损坏", Some("C01"), C, Grid, STD, 30.0),
    row("C02", "道路交通", None, C, Lane, STD, 30.0),
    row("C0201", "交通护栏损坏", Some("C02"), C, Lane, STD, 30.0),
    row("C0202", "交通标志牌损坏", Some("C02"), C, Lane, STD, 30.0),
    row("C0203", "人行道破损", Some("C02"), C, Lane, SLOW, 30.0),
    row("C0204", "盲道被占或破损", Some("C02"), C, Lane, STD, 30.0),
    row("C03", "市容环境", None, C, Grid, STD, 30.0),
    row("C0301", "公共座椅损坏", Some("C03"), C, Grid, STD, 20.0),
    row("C0302", "雕塑或景观设施损坏", Some("C03"), C, Grid, SLOW, 30.0),
    row("C04", "园林绿化", None, C, Grid, STD, 30.0),
    row("C0401", "行道树倒伏或死亡", Some("C04"), C, Grid, NIGHT, 30.0),
    row("C0402", "绿地护栏损坏", Some("C04"), C, Grid, STD, 30.0),
    row("C0403", "绿地缺株或黄土裸露", Some("C04"), C, Grid, SLOW, 50.0),
    row("C05", "房屋管理", None, C, Building, STD, 0.0),
    row("C0501", "楼道灯损坏", Some("C05"), C, Building, STD, 0.0),
    row("C0502", "单元门或门禁损坏", Some("C05"), C, Unit, STD, 0.0),
    row("C0503", "外墙脱落", Some("C05"), C, Building, NIGHT, 20.0),
    row("C0504", "危房隐患", Some("C05"), C, Building, NIGHT, 20.0),
    row("C06", "其他设施", None, C, Grid, STD, 30.0),
    row("C0601", "健身器材损坏", Some("C06"), C, Grid, STD, 20.0),
    row("C0602", "充电桩损坏", Some("C06"), C, Grid, STD, 20.0),
    // 事件 events (CJ/T 214 大类 01–06).
    row("E01", "市容环境", None, E, Grid, STD, 50.0),
    row("E0101", "私搭乱建", Some("E01"), E, Grid, SLOW, 30.0),
    row("E0102", "暴露垃圾", Some("E01"), E, Grid, QUICK, 50.0),
    row("E0103", "积存垃圾渣土", Some("E01"), E, Grid, STD, 50.0),
    row("E0104", "道路不洁", Some("E01"), E, Grid, QUICK, 100.0),
    row("E0105", "水域不洁", Some("E01"), E, Grid, STD, 200.0),
    row("E0106", "露天烧烤", Some("E01"), E, Grid, QUICK, 50.0),
    row("E0107", "焚烧垃圾树叶", Some("E01"), E, Grid, QUICK, 100.0),
    row("E02", "宣传广告", None, E, Grid, STD, 30.0),
    row("E0201", "非法小广告", Some("E02"), E, Grid, STD, 30.0),
    row("E0202", "违规张贴悬挂广告牌匾", Some("E02"), E, Lane, STD, 30.0),
    row("E0203", "占道广告牌", Some("E02"), E, Lane, STD, 30.0),
    row("E03", "施工管理", None, E, Lane, STD, 100.0),
    row("E0301", "施工扰民", Some("E03"), E, Lane, QUICK, 200.0),
    row("E0302", "工地扬尘", Some("E03"), E, Lane, QUICK, 200.0),
    row("E0303", "道路遗撒", Some("E03"), E, Lane, QUICK, 100.0),
    row("E0304", "无证掘路", Some("E03"), E, Street, STD, 100.0),
    row("E04", "突发事件", None, E, Grid, URGENT, 100.0),
    row("E0401", "路面塌陷", Some("E04"), E, Grid, URGENT, 100.0),
    row("E0402", "自来水管破裂", Some("E04"), E, Grid, URGENT, 100.0),
    row("E0403", "燃气泄漏", Some("E04"), E, Grid, URGENT, 100.0),
    row("E0404", "下水道堵塞或冒溢", Some("E04"), E, Grid, URGENT, 100.0),
    row("E0405", "道路积水", Some("E04"), E, Grid, URGENT, 200.0),
    row("E0406", "道路积雪结冰", Some("E04"), E, Grid, URGENT, 200.0),
    row("E0407", "火情", Some("E04"), E, Grid, URGENT, 100.0),
    row("E05", "街面秩序", None, E, Lane, QUICK, 50.0),
    row("E0501", "占道经营", Some("E05"), E, Lane, QUICK, 50.0),
    row("E0502", "无照经营游商", Some("E05"), E, Lane, QUICK, 50.0),
    row("E0503", "机动车乱停放", Some("E05"), E, Lane, QUICK, 30.0),
    row("E0504", "非机动车乱停放", Some("E05"), E, Grid, QUICK, 30.0),
    row("E0505", "店外经营", Some("E05"), E, Lane, QUICK, 30.0),
    row("E06", "其他事件", None, E, Grid, STD, 0.0),
    // 社区治理: what the five-chief chain handles below the grid.
    row("N01", "邻里纠纷与社区事务", None, E, Unit, STD, 0.0),
    row("N0101", "邻里纠纷", Some("N01"), E, Unit, STD, 0.0),
    row("N0102", "噪声扰民", Some("N01"), E, Building, QUICK, 0.0),
    row("N0103", "楼道堆物", Some("N01"), E, Building, STD, 0.0),
    row("N0104", "高空抛物", Some("N01"), E, Building, QUICK, 0.0),
    row("N0105", "宠物扰民", Some("N01"), E, Unit, STD, 0.0),
    row("N0106", "物业服务", Some("N01"), E, Building, SLOW, 0.0),
];

/// The default categories, parents before children, every one valid and active.
pub fn default_categories() -> Vec<Category> {
    ROWS.iter()
        .map(|r| {
            let (accept_within, resolve_within, deadline_kind, urgent) = match r.clock {
                Clock::Urgent {
                    accept_min,
                    resolve_h,
                } => (
                    Duration::minutes(accept_min),
                    Duration::hours(resolve_h),
                    DeadlineKind::UrgentHours,
                    true,
                ),
                Clock::Days {
                    accept_h,
                    resolve_d,
                } => (
                    Duration::hours(accept_h),
                    Duration::days(resolve_d),
                    DeadlineKind::WorkingDays,
                    false,
                ),
                Clock::Hours {
                    accept_h,
                    resolve_h,
                } => (
                    Duration::hours(accept_h),
                    Duration::hours(resolve_h),
                    DeadlineKind::WorkingHours,
                    false,
                ),
                Clock::Natural {
                    accept_h,
                    resolve_d,
                } => (
                    Duration::hours(accept_h),
                    Duration::days(resolve_d),
                    DeadlineKind::Natural,
                    false,
                ),
            };
            Category {
                code: CategoryCode::new(r.code).expect("default codes are valid"),
                name: r.name.to_owned(),
                parent_code: r
                    .parent
                    .map(|p| CategoryCode::new(p).expect("default codes are valid")),
                kind: r.kind,
                start_level: r.start,
                accept_within,
                resolve_within,
                deadline_kind,
                urgent,
                calendar_code: DEFAULT_CALENDAR.to_owned(),
                duplicate_radius_m: r.dup_m,
                duplicate_window: if r.dup_m > 0.0 {
                    Duration::hours(24)
                } else {
                    Duration::ZERO
                },
                active: true,
                reopen_on_not_solved: false,
                organization_type: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn defaults_are_valid_unique_and_parents_come_first() {
        let all = default_categories();
        assert!(all.len() >= 50);
        let mut seen = HashSet::new();
        for c in &all {
            c.validate().unwrap_or_else(|e| panic!("{}: {e}", c.code));
            if let Some(p) = &c.parent_code {
                assert!(seen.contains(p), "{} before its parent {p}", c.code);
            }
            assert!(seen.insert(c.code.clone()), "{} twice", c.code);
        }
        // The groups the issue names are all there.
        let names: HashSet<&str> = all.iter().map(|c| c.name.as_str()).collect();
        for n in [
            "市容环境",
            "宣传广告",
            "施工管理",
            "街面秩序",
            "突发事件",
            "公用设施",
            "园林绿化",
            "房屋管理",
            "邻里纠纷",
        ] {
            assert!(names.contains(n), "{n} missing");
        }
        assert!(
            all.iter()
                .filter(|c| c.urgent)
                .all(|c| c.deadline_kind == DeadlineKind::UrgentHours)
        );
    }
}
