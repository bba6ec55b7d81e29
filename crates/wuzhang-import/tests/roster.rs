//! Roster files: a good one, and one of each kind of bad row.

use time::macros::datetime;
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_import::roster::{MAX_ROSTER_FILE_BYTES, RosterFileError, RosterImport, import_roster};

fn areas(code: &AreaCode) -> Option<AreaLevel> {
    Some(match code.as_str() {
        "D1" => AreaLevel::District,
        "S1" => AreaLevel::Subdistrict,
        "ST1" => AreaLevel::Street,
        "L1" => AreaLevel::Lane,
        "G1" | "G2" | "G3" => AreaLevel::Grid,
        "B1" => AreaLevel::Building,
        "U1" => AreaLevel::Unit,
        _ => return None,
    })
}

const HEADER: &str = "area_code,person_id,person_name,phone,deputy_person_id,deputy_name,deputy_phone,leave_starts_at,leave_ends_at";

fn run(rows: &[&str]) -> RosterImport {
    let text = std::iter::once(HEADER)
        .chain(rows.iter().copied())
        .collect::<Vec<_>>()
        .join("\n");
    import_roster(text.as_bytes(), &areas).unwrap()
}

/// Asserts exactly one issue, on `line` and `field`, and returns its reason.
fn one_issue(import: &RosterImport, line: u64, field: &str) -> String {
    assert!(import.persons.is_empty() && import.posts.is_empty());
    assert!(import.clone().into_parts().is_err());
    assert_eq!(import.issues.len(), 1, "{:#?}", import.issues);
    let i = &import.issues[0];
    assert_eq!((i.line, i.field.as_str()), (line, field), "{i}");
    assert!(!i.reason.starts_with(char::is_uppercase), "{i}");
    i.reason.clone()
}

#[test]
fn good_roster() {
    let import = run(&[
        "S1,p0,指挥中心值班,13900000000,,,,,",
        "G1,p1,张三,+86 138-0013-8000,p2,李四,13700000000,2026-10-01T00:00:00+08:00,2026-10-08T00:00:00+08:00",
        "G2,p1,张三,,,,,,",
        "L1,,,,p2,,,,",
        "B1,p3,王五,15600000000,,,,,",
    ]);
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    let ids: Vec<&str> = import.persons.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3"]);
    let p1 = &import.persons[1];
    assert_eq!(p1.name, "张三");
    assert_eq!(p1.phone.as_deref(), Some("13800138000"));
    assert_eq!(import.persons[2].name, "李四");
    assert_eq!(import.posts.len(), 5);
    assert_eq!(import.posts[0].level, ChiefLevel::CommandCenter);
    let g1 = &import.posts[1];
    assert_eq!(g1.level, ChiefLevel::Grid);
    assert_eq!(g1.holder, Some(PersonId::new("p1").unwrap()));
    assert_eq!(g1.deputy, Some(PersonId::new("p2").unwrap()));
    assert_eq!(g1.leave.len(), 1);
    assert_eq!(g1.leave[0].from, datetime!(2026-09-30 16:00 UTC));
    assert_eq!(g1.leave[0].until, datetime!(2026-10-07 16:00 UTC));
    // A person with two posts.
    assert_eq!(import.posts[2].holder, g1.holder);
    // A vacancy with a deputy acting.
    let lane = &import.posts[3];
    assert_eq!((lane.level, lane.holder.as_ref()), (ChiefLevel::Lane, None));
    assert_eq!(lane.deputy, Some(PersonId::new("p2").unwrap()));
    assert_eq!(import.posts[4].level, ChiefLevel::Building);
}

#[test]
fn columns_in_any_order_and_optional_ones_left_out() {
    let text = "\u{feff}Phone,person_name,AREA_CODE,person_id\r\n13800138000,张三,G1,p1\r\n,\"赵,六\",G2,p4\r\n";
    let import = import_roster(text.as_bytes(), &areas).unwrap();
    assert!(import.issues.is_empty(), "{:#?}", import.issues);
    assert_eq!(import.posts.len(), 2);
    assert_eq!(import.persons[1].name, "赵,六");
    assert_eq!(import.persons[1].phone, None);
}

#[test]
fn bad_rows() {
    let r = one_issue(&run(&["X9,p1,张三,13800138000,,,,,"]), 2, "area_code");
    assert!(r.contains("unknown area X9"), "{r}");
    let r = one_issue(&run(&["D1,p1,张三,13800138000,,,,,"]), 2, "area_code");
    assert!(r.contains("no chief post"), "{r}");
    one_issue(&run(&["G 1,p1,张三,13800138000,,,,,"]), 2, "area_code");
    one_issue(&run(&[",p1,张三,13800138000,,,,,"]), 2, "area_code");
    let r = one_issue(
        &run(&["G1,p1,张三,13800138000,,,,,", "G1,p2,李四,13700000000,,,,,"]),
        3,
        "area_code",
    );
    assert!(r.contains("first given on line 2"), "{r}");
    let r = one_issue(&run(&["G1,p1,张三,12800138000,,,,,"]), 2, "phone");
    assert!(r.contains("not a mainland mobile"), "{r}");
    one_issue(
        &run(&["G1,p1,张三,13800138000,p2,李四,0431-1234567,,"]),
        2,
        "deputy_phone",
    );
    one_issue(&run(&["G1,p 1,张三,13800138000,,,,,"]), 2, "person_id");
    one_issue(&run(&["G1,p1,,13800138000,,,,,"]), 2, "person_name");
    one_issue(&run(&["G1,,张三,,,,,,"]), 2, "person_name");
    one_issue(&run(&["G1,,,13800138000,,,,,"]), 2, "phone");
    one_issue(&run(&["G1,p1,张三,,,李四,,,"]), 2, "deputy_name");
    let r = one_issue(&run(&["G1,p1,张三,,p1,张三,,,"]), 2, "deputy_person_id");
    assert!(r.contains("must not be the holder"), "{r}");
    let r = one_issue(&run(&["G1,p1,张三,,p2,,,,"]), 2, "deputy_name");
    assert!(r.contains("no row gives a name for person p2"), "{r}");
}

#[test]
fn bad_leave() {
    one_issue(
        &run(&["G1,p1,张三,,,,,2026-10-01T00:00:00Z,"]),
        2,
        "leave_ends_at",
    );
    one_issue(
        &run(&["G1,p1,张三,,,,,,2026-10-01T00:00:00Z"]),
        2,
        "leave_starts_at",
    );
    let r = one_issue(
        &run(&["G1,p1,张三,,,,,2026-10-08T00:00:00Z,2026-10-01T00:00:00Z"]),
        2,
        "leave_ends_at",
    );
    assert!(r.contains("end after it starts"), "{r}");
    one_issue(
        &run(&["G1,p1,张三,,,,,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z"]),
        2,
        "leave_ends_at",
    );
    let r = one_issue(
        &run(&["G1,p1,张三,,,,,2026-10-01,2026-10-08T00:00:00Z"]),
        2,
        "leave_starts_at",
    );
    assert!(r.contains("rfc 3339"), "{r}");
    let r = one_issue(
        &run(&["G1,,,,p2,李四,,2026-10-01T00:00:00Z,2026-10-08T00:00:00Z"]),
        2,
        "leave_starts_at",
    );
    assert!(r.contains("vacant"), "{r}");
}

#[test]
fn one_person_must_be_described_the_same_everywhere() {
    let import = run(&[
        "G1,p1,张三,13800138000,,,,,",
        "G2,p1,张三丰,13800138000,,,,,",
    ]);
    let r = one_issue(&import, 3, "person_name");
    assert!(r.contains("\"张三丰\" here but \"张三\" on line 2"), "{r}");
    let import = run(&[
        "G1,p1,张三,13800138000,,,,,",
        "G2,p2,李四,,p1,张三,13900000000,,",
    ]);
    one_issue(&import, 3, "deputy_phone");
    // An empty phone does not contradict a given one.
    let import = run(&["G1,p1,张三,13800138000,,,,,", "G2,p1,张三,,,,,,"]);
    assert!(import.issues.is_empty());
}

#[test]
fn lines_count_from_the_header_and_follow_quoted_newlines() {
    let import = run(&[
        "G1,p1,\"张\n三\",,,,,,",
        "G2,p2,李四,13800138000,,,,,",
        "X9,p3,王五,,,,,,",
    ]);
    one_issue(&import, 5, "area_code");
    let import = run(&["G1,p1,张三,,,,,,", "G2,p2,李四"]);
    let r = one_issue(&import, 3, "row");
    assert!(r.contains("row has 3 fields, the header has 9"), "{r}");
}

#[test]
fn whole_file_errors() {
    let err = |text: &[u8]| import_roster(text, &areas).unwrap_err();
    assert_eq!(err(b""), RosterFileError::NoHeader);
    assert_eq!(
        err(b"area_code,person_id,person_name\nG1,p1,x"),
        RosterFileError::MissingColumn("phone")
    );
    assert_eq!(
        err(b"area_code,person_id,person_name,phone,deputy_phne\n"),
        RosterFileError::UnknownColumn("deputy_phne".into())
    );
    assert_eq!(
        err(b"area_code,person_id,person_name,phone,Phone\n"),
        RosterFileError::DuplicateColumn("phone".into())
    );
    let mut bad = format!("{HEADER}\nG1,p1,张三,,,,,,\nG2,p2,").into_bytes();
    bad.extend([0xe5, 0xbc]);
    bad.extend(b",,,,,,,\n");
    assert_eq!(err(&bad), RosterFileError::NotUtf8 { line: 3 });
    let huge = vec![b'a'; MAX_ROSTER_FILE_BYTES + 1];
    assert!(matches!(err(&huge), RosterFileError::TooLarge { .. }));
    // A header and no rows is an empty roster, not an error.
    let empty = import_roster(HEADER.as_bytes(), &areas).unwrap();
    assert!(empty.issues.is_empty() && empty.posts.is_empty());
}
