//! The synthetic roster: one post for every area with a chief level, most of them filled
//! by a made-up person, some vacant, some with a deputy, some holders on leave, and a few
//! people holding a second post one level down.

use std::collections::HashMap;

use rand::Rng;
use rand::rngs::StdRng;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::chief::{LeavePeriod, Person, PersonId, Post};
use wuzhang_store::AreaRecord;

use crate::Options;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "辉", "鹏", "红", "建", "国",
    "春", "晓", "凤", "云", "海", "波", "宁", "丹", "斌", "志", "雪", "琳", "浩", "宇", "欣", "佳",
];

/// Mainland mobile prefixes (all match `^1[3-9]`).
const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "177", "180", "181", "186", "187", "188", "189", "191",
    "198", "199",
];

/// Leave periods, relative to `now`: half of them cover it, the rest are a past and an
/// upcoming week.
const LEAVES: [(i64, i64); 4] = [(-2, 5), (-1, 6), (-30, -23), (7, 14)];

struct People {
    persons: Vec<Person>,
}

impl People {
    fn new_person(&mut self, rng: &mut StdRng) -> PersonId {
        let n = self.persons.len() as u64 + 1;
        let id = PersonId::new(format!("P{n:06}")).expect("P and digits is a valid id");
        let mut name = String::with_capacity(9);
        name.push_str(SURNAMES[rng.random_range(0..SURNAMES.len())]);
        for _ in 0..rng.random_range(1..=2) {
            name.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
        }
        // An odd multiplier not divisible by 5 permutes 0..10^8: numbers stay unique.
        let tail = (n * 7_654_321 + 13_579_246) % 100_000_000;
        let prefix = PHONE_PREFIXES[rng.random_range(0..PHONE_PREFIXES.len())];
        self.persons.push(Person {
            id: id.clone(),
            name,
            phone: Some(format!("{prefix}{tail:08}")),
        });
        id
    }
}

pub(crate) fn roster(
    areas: &[AreaRecord],
    opts: &Options,
    now: OffsetDateTime,
    rng: &mut StdRng,
) -> (Vec<Person>, Vec<Post>) {
    let n_posts = areas
        .iter()
        .filter(|r| r.area.level.chief_level().is_some())
        .count();
    let mut people = People {
        persons: Vec::with_capacity(
            n_posts + (n_posts as f64 * opts.deputy_rate * 1.01) as usize + 64,
        ),
    };
    let mut posts = Vec::with_capacity(n_posts);
    // Holders of streets and lanes picked to also hold one post below, by area code.
    let mut second_post: HashMap<AreaCode, PersonId> = HashMap::new();
    for r in areas {
        let Some(level) = r.area.level.chief_level() else {
            continue;
        };
        let a = &r.area;
        let inherited = match (&a.parent_code, a.level) {
            (Some(p), AreaLevel::Lane | AreaLevel::Grid) if !second_post.is_empty() => {
                second_post.remove(p)
            }
            _ => None,
        };
        let dual = inherited.is_some();
        let holder = match inherited {
            Some(h) => Some(h),
            None if a.level == AreaLevel::Subdistrict || !rng.random_bool(opts.vacancy_rate) => {
                Some(people.new_person(rng))
            }
            None => None,
        };
        let Some(holder) = holder else {
            posts.push(Post {
                area_code: a.code.clone(),
                level,
                holder: None,
                deputy: None,
                leave: vec![],
            });
            continue;
        };
        if !dual
            && matches!(a.level, AreaLevel::Street | AreaLevel::Lane)
            && rng.random_bool(opts.dual_post_rate)
        {
            second_post.insert(a.code.clone(), holder.clone());
        }
        let deputy = rng
            .random_bool(opts.deputy_rate)
            .then(|| people.new_person(rng));
        let leave = if rng.random_bool(opts.leave_rate) {
            let (from, until) = LEAVES[rng.random_range(0..LEAVES.len())];
            vec![LeavePeriod {
                from: now + Duration::days(from),
                until: now + Duration::days(until),
            }]
        } else {
            vec![]
        };
        posts.push(Post {
            area_code: a.code.clone(),
            level,
            holder: Some(holder),
            deputy,
            leave,
        });
    }
    (people.persons, posts)
}
