//! The compiled API keeps the names DESIGN.md promises clients, and the AIP conventions
//! every service follows: `request_id` on mutations, `page_size`/`page_token` on lists.

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet, ServiceDescriptorProto};

const PACKAGE: &str = "wuzhang.v1";

/// The RPCs DESIGN.md names, per service (more are allowed).
const SERVICES: &[(&str, &[&str])] = &[
    (
        "IntakeService",
        &[
            "SubmitIncident",
            "GetIncident",
            "ListMyIncidents",
            "WatchIncident",
            "CancelIncident",
            "RateIncident",
        ],
    ),
    (
        "RoutingService",
        &["Locate", "LocateBatch", "GetArea", "ListAreas"],
    ),
    (
        "EscalationService",
        &[
            "ListInbox",
            "GetTicket",
            "AcceptTicket",
            "ResolveTicket",
            "EscalateTicket",
            "AddNote",
        ],
    ),
    (
        "SupervisionService",
        &[
            "GetOverview",
            "ListTickets",
            "IssueSupervision",
            "VerifyTicket",
            "ReassignTicket",
            "GetEvaluation",
            "WatchEvents",
        ],
    ),
    (
        "AdminService",
        &[
            "ImportAreas",
            "ImportRoster",
            "UpsertCategory",
            "ListCategories",
            "SetCalendar",
        ],
    ),
];

/// RPC name prefixes that mark a mutation.
const MUTATING_PREFIXES: &[&str] = &[
    "Submit",
    "Cancel",
    "Rate",
    "Upload",
    "Accept",
    "Resolve",
    "Escalate",
    "AddNote",
    "RequestPause",
    "Resume",
    "Issue",
    "Verify",
    "Reassign",
    "Close",
    "Reject",
    "Decide",
    "Reopen",
    "Merge",
    "Import",
    "Upsert",
    "Set",
];

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(wuzhang_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

fn services(fds: &FileDescriptorSet) -> Vec<&ServiceDescriptorProto> {
    fds.file
        .iter()
        .filter(|f| f.package() == PACKAGE)
        .flat_map(|f| &f.service)
        .collect()
}

/// Looks a message up by its fully qualified name, e.g. `.wuzhang.v1.Ticket`.
fn message<'a>(fds: &'a FileDescriptorSet, full_name: &str) -> &'a DescriptorProto {
    fds.file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", f.package(), m.name()), m))
        })
        .find(|(name, _)| name == full_name)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("message {full_name} is in the descriptor set"))
}

fn has_field(m: &DescriptorProto, name: &str) -> bool {
    m.field.iter().any(|f| f.name() == name)
}

#[test]
fn design_services_and_rpcs_exist() {
    let fds = descriptor_set();
    let services = services(&fds);
    for (service, rpcs) in SERVICES {
        let s = services
            .iter()
            .find(|s| s.name() == *service)
            .unwrap_or_else(|| panic!("service {PACKAGE}.{service} exists"));
        for rpc in *rpcs {
            assert!(
                s.method.iter().any(|m| m.name() == *rpc),
                "{service} has rpc {rpc}"
            );
        }
    }
}

#[test]
fn streams_are_where_design_puts_them() {
    let fds = descriptor_set();
    let services = services(&fds);
    let method = |service: &str, rpc: &str| {
        services
            .iter()
            .filter(|s| s.name() == service)
            .flat_map(|s| &s.method)
            .find(|m| m.name() == rpc)
            .cloned()
            .unwrap_or_else(|| panic!("{service}.{rpc} exists"))
    };
    for (service, rpc) in [
        ("IntakeService", "WatchIncident"),
        ("SupervisionService", "WatchEvents"),
    ] {
        let m = method(service, rpc);
        assert!(
            m.server_streaming() && !m.client_streaming(),
            "{rpc} streams events"
        );
        assert_eq!(m.output_type(), ".wuzhang.v1.TicketEvent");
    }
    let upload = method("IntakeService", "UploadMedia");
    assert!(upload.client_streaming() && !upload.server_streaming());
    assert_eq!(
        method("IntakeService", "SubmitIncident").output_type(),
        ".wuzhang.v1.Ticket"
    );
}

#[test]
fn mutations_carry_request_id_and_lists_page() {
    let fds = descriptor_set();
    let mut mutations = 0;
    let mut lists = 0;
    for service in services(&fds) {
        for rpc in &service.method {
            let name = rpc.name();
            let request = message(&fds, rpc.input_type());
            if MUTATING_PREFIXES.iter().any(|p| name.starts_with(p)) {
                mutations += 1;
                // A client stream carries it in its first (metadata) message.
                let nested = request
                    .field
                    .iter()
                    .filter(|f| f.name() == "metadata")
                    .any(|f| has_field(message(&fds, f.type_name()), "request_id"));
                assert!(
                    has_field(request, "request_id") || nested,
                    "{}.{name} request has request_id",
                    service.name()
                );
            }
            if name.starts_with("List") {
                lists += 1;
                for field in ["page_size", "page_token"] {
                    assert!(
                        has_field(request, field),
                        "{}.{name} request has {field}",
                        service.name()
                    );
                }
                let response = message(&fds, rpc.output_type());
                assert!(
                    has_field(response, "next_page_token"),
                    "{}.{name} response has next_page_token",
                    service.name()
                );
            }
        }
    }
    assert!(mutations >= 20, "found {mutations} mutations");
    assert!(lists >= 6, "found {lists} lists");
}

#[test]
fn binding_names_are_kept() {
    let fds = descriptor_set();
    let fields = |msg: &str, names: &[&str]| {
        let m = message(&fds, &format!(".{PACKAGE}.{msg}"));
        for n in names {
            assert!(has_field(m, n), "{msg} has field {n}");
        }
    };
    fields("GeoPoint", &["lat", "lng", "crs"]);
    fields(
        "SubmitIncidentRequest",
        &[
            "request_id",
            "category_code",
            "description",
            "location",
            "address",
            "building_code",
            "unit_code",
            "media_urls",
            "contact_phone",
        ],
    );
    fields(
        "Ticket",
        &[
            "id",
            "state",
            "category_code",
            "description",
            "location",
            "grid_code",
            "subdistrict_code",
            "level",
            "assignee_person_id",
            "accept_due_at",
            "resolve_due_at",
            "created_at",
            "updated_at",
            "duplicate_of",
        ],
    );
    fields(
        "TicketEvent",
        &[
            "ticket_id",
            "seq",
            "kind",
            "actor",
            "from_state",
            "to_state",
            "level",
            "note",
            "at",
        ],
    );
    fields("LocateRequest", &["point"]);
    fields("LocateResponse", &["grid", "building", "chain"]);
    fields(
        "ChainLink",
        &[
            "level",
            "area_code",
            "area_name",
            "person_id",
            "person_name",
            "vacant",
        ],
    );
    fields("Area", &["code", "name", "level", "parent_code"]);
}

#[test]
fn enum_values_keep_their_numbers() {
    use wuzhang_proto::v1::{AreaLevel, ChiefLevel, Crs, TicketState};
    assert_eq!(Crs::Wgs84 as i32, 1);
    assert_eq!(Crs::Cgcs2000 as i32, 4);
    assert_eq!(ChiefLevel::Unit as i32, 1);
    assert_eq!(ChiefLevel::CommandCenter as i32, 6);
    assert_eq!(TicketState::Submitted as i32, 1);
    assert_eq!(TicketState::Merged as i32, 8);
    assert_eq!(AreaLevel::Subdistrict as i32, 1);
    assert_eq!(AreaLevel::Unit as i32, 6);
    assert_eq!(
        ChiefLevel::from_str_name("CHIEF_LEVEL_COMMAND_CENTER"),
        Some(ChiefLevel::CommandCenter)
    );
}

#[test]
fn well_known_types_are_included_for_reflection() {
    let fds = descriptor_set();
    for file in [
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
    ] {
        assert!(
            fds.file.iter().any(|f| f.name() == file),
            "{file} is in the descriptor set"
        );
    }
}
