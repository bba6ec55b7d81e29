use super::*;
use time::macros::datetime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::PersonId;
use wuzhang_domain::ticket::{Assignment, Command, Report, TicketId};

#[test]
fn enums_round_trip_and_unspecified_is_none() {
    for l in ChiefLevel::ALL {
        assert_eq!(
            chief_level_from_wire("level", chief_level(l) as i32).unwrap(),
            Some(l)
        );
    }
    for l in AreaLevel::ALL {
        assert_eq!(
            area_level_from_wire("level", area_level(l) as i32).unwrap(),
            Some(l)
        );
    }
    for s in TicketState::ALL {
        assert_eq!(
            ticket_state_from_wire("state", ticket_state(s) as i32).unwrap(),
            Some(s)
        );
    }
    for k in EventKind::ALL {
        assert_eq!(
            event_kind_from_wire("kind", event_kind(k) as i32).unwrap(),
            Some(k)
        );
    }
    assert_eq!(chief_level_from_wire("level", 0).unwrap(), None);
    let err = chief_level_from_wire("to_level", 99).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.reason.as_str()),
        ("to_level", "unknown value 99")
    );
    // The wire numbers are part of the contract.
    assert_eq!(v1::ChiefLevel::CommandCenter as i32, 6);
    assert_eq!(v1::TicketState::Merged as i32, 8);
}

#[test]
fn points_are_checked_on_the_way_in() {
    let p = GeoPoint::try_from(&v1::GeoPoint {
        lat: 43.9,
        lng: 125.3,
        crs: 0,
    })
    .unwrap();
    assert_eq!(p.crs(), Crs::Wgs84, "unspecified means WGS84");
    let p = GeoPoint::try_from(&v1::GeoPoint {
        lat: 43.9,
        lng: 125.3,
        crs: 3,
    })
    .unwrap();
    assert_eq!(p.crs(), Crs::Bd09);
    let err = GeoPoint::try_from(&v1::GeoPoint {
        lat: f64::NAN,
        lng: 125.3,
        crs: 0,
    })
    .unwrap_err();
    assert_eq!(err.field, "lat");
    let err = GeoPoint::try_from(&v1::GeoPoint {
        lat: 1.0,
        lng: 1.0,
        crs: 42,
    })
    .unwrap_err();
    assert_eq!(err.field, "crs");
}

#[test]
fn times_round_trip_at_microseconds() {
    let t = datetime!(2026-10-01 08:30:00.123456 UTC);
    assert_eq!(from_timestamp("at", &timestamp(t)).unwrap(), t);
    assert!(
        from_timestamp(
            "at",
            &Timestamp {
                seconds: 0,
                nanos: -1
            }
        )
        .is_err()
    );
    assert!(
        from_timestamp(
            "at",
            &Timestamp {
                seconds: i64::MAX,
                nanos: 0
            }
        )
        .is_err()
    );
    let d = Duration::hours(36);
    assert_eq!(from_duration("d", &duration(d)).unwrap(), d);
    assert!(
        from_duration(
            "d",
            &PbDuration {
                seconds: 1,
                nanos: -5
            }
        )
        .is_err()
    );
}

#[test]
fn phones_are_masked_for_other_viewers() {
    assert_eq!(mask_phone("13812345678"), "138****5678");
    assert_eq!(mask_phone("5678"), "****");
    assert_eq!(mask_phone("0431-8888"), "*****8888");
}

#[test]
fn tickets_show_what_the_viewer_may_see() {
    let now = datetime!(2026-10-01 9:00 UTC);
    let p = GeoPoint::new(43.88, 125.32, Crs::Wgs84).unwrap();
    let report = Report {
        category_code: CategoryCode::new("0101").unwrap(),
        description: "井盖缺失".into(),
        location: p,
        original_location: GeoPoint::new(43.881, 125.326, Crs::Gcj02).unwrap(),
        address: "人民大街 1 号".into(),
        building_code: None,
        unit_code: None,
        media_urls: vec![],
        contact_phone: Some("13812345678".into()),
        reporter_id: "r1".into(),
        urgent: false,
    };
    let code = |s: &str| AreaCode::new(s).unwrap();
    let (mut t, _) = Ticket::submit(
        TicketId::new(now),
        report,
        code("g1"),
        code("220102001"),
        now,
    );
    let a = Assignment {
        level: ChiefLevel::Grid,
        area_code: code("g1"),
        person_id: Some(PersonId::new("p1").unwrap()),
        organization: None,
    };
    let _ = t.apply(Command::Assign(a), "system", "", now).unwrap();
    t.resolve_due_at = Some(now + Duration::hours(1));

    let full = ticket(&t, PhoneVisibility::Full, now);
    assert_eq!(full.contact_phone, "13812345678");
    assert_eq!(full.state, v1::TicketState::Assigned as i32);
    assert_eq!(full.level, v1::ChiefLevel::Grid as i32);
    assert_eq!(full.assignee_person_id, "p1");
    assert_eq!(full.original_location.unwrap().crs, v1::Crs::Gcj02 as i32);
    assert!(!full.overdue);
    let masked = ticket(&t, PhoneVisibility::Masked, now + Duration::hours(2));
    assert_eq!(masked.contact_phone, "138****5678");
    assert!(masked.overdue);
}

#[test]
fn categories_round_trip_and_name_bad_fields() {
    let c = Category {
        code: CategoryCode::new("0101").unwrap(),
        name: "暴露垃圾".into(),
        parent_code: None,
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Grid,
        accept_within: Duration::hours(2),
        resolve_within: Duration::hours(24),
        deadline_kind: DeadlineKind::WorkingHours,
        urgent: false,
        calendar_code: "cn".into(),
        duplicate_radius_m: 50.0,
        duplicate_window: Duration::hours(24),
        active: true,
        reopen_on_not_solved: false,
        organization_type: None,
    };
    let wire = v1::Category::from(&c);
    assert_eq!(Category::try_from(&wire).unwrap(), c);
    let bad = v1::Category {
        start_level: 0,
        ..wire.clone()
    };
    assert_eq!(Category::try_from(&bad).unwrap_err().field, "start_level");
    let bad = v1::Category {
        accept_within: None,
        ..wire.clone()
    };
    assert_eq!(Category::try_from(&bad).unwrap_err().field, "accept_within");
    let bad = v1::Category {
        code: "a b".into(),
        ..wire
    };
    assert_eq!(Category::try_from(&bad).unwrap_err().field, "code");
}
