//! The chief roster from CSV: who holds which post, their deputies and their leave.
//!
//! The file is UTF-8 (a leading byte-order mark is dropped) with a header row; columns may
//! come in any order and header names are matched case-insensitively. Required columns:
//! `area_code`, `person_id`, `person_name`, `phone`. Optional: `deputy_person_id`,
//! `deputy_name`, `deputy_phone`, `leave_starts_at`, `leave_ends_at`. Any other column is
//! refused, so a misspelt optional column cannot be silently ignored.
//!
//! One row is one post:
//! - `area_code` names an existing area (the caller answers with its level); the post's
//!   chief level follows from the area's level, and a district has no post. Each area
//!   appears on one row only: a second row for the same area is an issue, so a post has
//!   at most one leave period per import.
//! - an empty `person_id` records a vacancy (then name, phone and leave must be empty;
//!   a deputy may still be named and acts for the vacant post).
//! - a person may hold several posts and be deputy elsewhere: every row naming the same
//!   person id must give the same name, and the same phone where a phone is given (an
//!   empty phone does not contradict one given elsewhere). A deputy's name may be left
//!   out when the file names that person on another row.
//! - phones are mainland mobile numbers, `1[3-9]` followed by 9 digits; a `+86` prefix,
//!   spaces and hyphens are dropped. A phone may be empty.
//! - `leave_starts_at` and `leave_ends_at` are RFC 3339 times, both or neither, start
//!   before end, and only for a post that has a holder.
//!
//! Every problem is a [`RowIssue`] naming the line (the header is line 1) and the field;
//! persons and posts are returned only when there is none.

use std::collections::HashMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::chief::{LeavePeriod, Person, PersonId, Post};

/// Largest roster file accepted, checked before anything is parsed.
pub const MAX_ROSTER_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Longest person name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

const REQUIRED: [&str; 4] = ["area_code", "person_id", "person_name", "phone"];
const OPTIONAL: [&str; 5] = [
    "deputy_person_id",
    "deputy_name",
    "deputy_phone",
    "leave_starts_at",
    "leave_ends_at",
];

/// Why a whole roster file was refused before any row was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterFileError {
    #[error("file is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge { size: usize, limit: usize },
    #[error("file is not valid utf-8 at line {line}")]
    NotUtf8 { line: u64 },
    #[error("file has no header row")]
    NoHeader,
    #[error("header has no {0} column")]
    MissingColumn(&'static str),
    #[error("header has an unknown column {0:?}")]
    UnknownColumn(String),
    #[error("header names the column {0} twice")]
    DuplicateColumn(String),
    #[error("header is not valid csv: {0}")]
    BadHeader(String),
}

/// One problem on one line of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIssue {
    /// Line the row starts on, from 1; the header is line 1.
    pub line: u64,
    /// The column at fault, or `row` for the row as a whole.
    pub field: String,
    /// Lowercase, without a trailing period.
    pub reason: String,
}

impl std::fmt::Display for RowIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.reason)
    }
}

/// The outcome of a roster import.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RosterImport {
    /// Everyone named as holder or deputy, in order of first appearance. Empty whenever
    /// `issues` is not.
    pub persons: Vec<Person>,
    /// One post per row, in file order. Empty whenever `issues` is not.
    pub posts: Vec<Post>,
    pub issues: Vec<RowIssue>,
}

impl RosterImport {
    /// Persons and posts if there is no issue, else the issues.
    pub fn into_parts(self) -> Result<(Vec<Person>, Vec<Post>), Vec<RowIssue>> {
        if self.issues.is_empty() {
            Ok((self.persons, self.posts))
        } else {
            Err(self.issues)
        }
    }
}

/// Level of an existing area by code; `None` when there is no such area.
pub type AreaLevels<'a> = &'a dyn Fn(&AreaCode) -> Option<AreaLevel>;

/// A person as gathered over all rows that name them.
struct Entry {
    id: PersonId,
    name: Option<(String, u64)>,
    phone: Option<(String, u64)>,
    first_line: u64,
    /// A holder row without a name already said so; do not report it twice.
    nameless_reported: bool,
}

#[derive(Default)]
struct Persons {
    entries: Vec<Entry>,
    by_id: HashMap<PersonId, usize>,
}

impl Persons {
    /// Records that `line` names `id` with `name`/`phone` (when given), reporting a
    /// contradiction with an earlier row under `name_field`/`phone_field`.
    fn note(
        &mut self,
        id: &PersonId,
        name: Option<&str>,
        phone: Option<&str>,
        line: u64,
        (name_field, phone_field): (&str, &str),
        issues: &mut Vec<RowIssue>,
    ) {
        let pos = *self.by_id.entry(id.clone()).or_insert_with(|| {
            self.entries.push(Entry {
                id: id.clone(),
                name: None,
                phone: None,
                first_line: line,
                nameless_reported: false,
            });
            self.entries.len() - 1
        });
        let e = &mut self.entries[pos];
        e.nameless_reported |= name.is_none() && name_field == "person_name";
        for (given, kept, field, what) in [
            (name, &mut e.name, name_field, "named"),
            (phone, &mut e.phone, phone_field, "given the phone"),
        ] {
            let Some(given) = given else { continue };
            match kept {
                Some((old, old_line)) if old != given => issues.push(RowIssue {
                    line,
                    field: field.into(),
                    reason: format!(
                        "person {id} is {what} {given:?} here but {old:?} on line {old_line}"
                    ),
                }),
                Some(_) => {}
                None => *kept = Some((given.to_owned(), line)),
            }
        }
    }
}

/// Reads and checks a roster of at most [`MAX_ROSTER_FILE_BYTES`]. `area_levels` tells
/// the level of each area code in the store.
pub fn import_roster(
    bytes: &[u8],
    area_levels: AreaLevels<'_>,
) -> Result<RosterImport, RosterFileError> {
    import_roster_up_to(bytes, area_levels, MAX_ROSTER_FILE_BYTES)
}

/// As [`import_roster`], with another size limit: an administrator's command line may
/// allow more (a million grids' chiefs are some tens of MiB of CSV).
pub fn import_roster_up_to(
    bytes: &[u8],
    area_levels: AreaLevels<'_>,
    max_file_bytes: usize,
) -> Result<RosterImport, RosterFileError> {
    let (mut reader, columns) = open_csv(bytes, max_file_bytes, &REQUIRED, &OPTIONAL)?;

    let mut issues = Vec::new();
    let mut persons = Persons::default();
    let mut posts = Vec::new();
    let mut areas_seen: HashMap<AreaCode, u64> = HashMap::new();
    each_row(
        &mut reader,
        &columns,
        &mut issues,
        |line, fields, issues| {
            let before = issues.len();
            if let Some(post) = row(
                line,
                fields,
                area_levels,
                &mut areas_seen,
                &mut persons,
                issues,
            ) && issues.len() == before
            {
                posts.push(post);
            }
        },
    );
    for e in &persons.entries {
        if e.name.is_none() && !e.nameless_reported {
            issues.push(RowIssue {
                line: e.first_line,
                field: "deputy_name".into(),
                reason: format!("no row gives a name for person {}", e.id),
            });
        }
    }
    issues.sort_by_key(|i| i.line);
    if !issues.is_empty() {
        return Ok(RosterImport {
            issues,
            ..RosterImport::default()
        });
    }
    let persons = persons
        .entries
        .into_iter()
        .map(|e| Person {
            id: e.id,
            name: e.name.map(|(n, _)| n).unwrap_or_default(),
            phone: e.phone.map(|(p, _)| p),
        })
        .collect();
    Ok(RosterImport {
        persons,
        posts,
        issues,
    })
}

/// Column positions by (lowercase) name.
pub(crate) type Columns = HashMap<&'static str, usize>;

/// Checks a CSV file's size, encoding and header (with `required` and `optional` column
/// names, lowercase) and returns a reader at its first row, with the column positions.
/// Shared by the roster and organization imports, so both refuse a file alike.
pub(crate) fn open_csv<'b>(
    bytes: &'b [u8],
    max_file_bytes: usize,
    required: &[&'static str],
    optional: &[&'static str],
) -> Result<(csv::Reader<&'b [u8]>, Columns), RosterFileError> {
    if bytes.len() > max_file_bytes {
        return Err(RosterFileError::TooLarge {
            size: bytes.len(),
            limit: max_file_bytes,
        });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let newlines = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        return Err(RosterFileError::NotUtf8 {
            line: 1 + newlines as u64,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| RosterFileError::BadHeader(e.to_string().to_lowercase()))?
        .clone();
    let columns = columns(&header, required, optional)?;
    Ok((reader, columns))
}

/// Calls `f` with each row's line and fields; a row the reader cannot read is an issue
/// of its line instead.
pub(crate) fn each_row(
    reader: &mut csv::Reader<&[u8]>,
    columns: &Columns,
    issues: &mut Vec<RowIssue>,
    mut f: impl FnMut(u64, &Fields<'_>, &mut Vec<RowIssue>),
) {
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, csv::Position::line);
                let fields = Fields {
                    record: &record,
                    columns,
                };
                f(line, &fields, issues);
            }
            Err(e) => issues.push(record_issue(&e)),
        }
    }
}

/// A row the CSV reader could not read, as an issue of its line.
fn record_issue(e: &csv::Error) -> RowIssue {
    let line = e.position().map_or(0, csv::Position::line);
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields, the header has {expected_len}"),
        _ => e.to_string().to_lowercase(),
    };
    RowIssue {
        line,
        field: "row".into(),
        reason,
    }
}

/// The trimmed fields of one row, by column name.
pub(crate) struct Fields<'r> {
    pub(crate) record: &'r csv::StringRecord,
    pub(crate) columns: &'r HashMap<&'static str, usize>,
}

impl<'r> Fields<'r> {
    pub(crate) fn get(&self, name: &str) -> &'r str {
        self.columns
            .get(name)
            .and_then(|&i| self.record.get(i))
            .map_or("", str::trim)
    }
}

/// Column positions by (lowercase) name, checking the header.
fn columns(
    header: &csv::StringRecord,
    required: &[&'static str],
    optional: &[&'static str],
) -> Result<HashMap<&'static str, usize>, RosterFileError> {
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(RosterFileError::NoHeader);
    }
    let mut columns = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let name = raw.trim().to_lowercase();
        let Some(&known) = required.iter().chain(optional).find(|c| **c == name) else {
            return Err(RosterFileError::UnknownColumn(
                raw.chars().take(64).collect(),
            ));
        };
        if columns.insert(known, i).is_some() {
            return Err(RosterFileError::DuplicateColumn(known.into()));
        }
    }
    if let Some(missing) = required.iter().find(|c| !columns.contains_key(*c)) {
        return Err(RosterFileError::MissingColumn(missing));
    }
    Ok(columns)
}

/// Checks one row; returns its post (which counts only if the row added no issue).
fn row(
    line: u64,
    fields: &Fields<'_>,
    area_levels: AreaLevels<'_>,
    areas_seen: &mut HashMap<AreaCode, u64>,
    persons: &mut Persons,
    issues: &mut Vec<RowIssue>,
) -> Option<Post> {
    let mut issue = |field: &str, reason: String| {
        issues.push(RowIssue {
            line,
            field: field.into(),
            reason,
        });
    };

    // The post.
    let area = fields.get("area_code");
    let post_level = if area.is_empty() {
        issue("area_code", "missing area_code".into());
        None
    } else {
        match AreaCode::new(area) {
            Err(e) => {
                issue("area_code", e.reason);
                None
            }
            Ok(code) => {
                if let Some(first) = areas_seen.get(&code) {
                    issue(
                        "area_code",
                        format!("duplicate area_code {code}, first given on line {first}"),
                    );
                } else {
                    areas_seen.insert(code.clone(), line);
                }
                match area_levels(&code) {
                    None => {
                        issue("area_code", format!("unknown area {code}"));
                        None
                    }
                    Some(level) => match level.chief_level() {
                        None => {
                            issue(
                                "area_code",
                                format!("area {code} is a {level}, which has no chief post"),
                            );
                            None
                        }
                        Some(chief) => Some((code, chief)),
                    },
                }
            }
        }
    };

    // The holder.
    let holder = person(
        line,
        ("person_id", "person_name", "phone"),
        fields,
        persons,
        &mut issue,
    );
    let vacant = fields.get("person_id").is_empty();

    // The deputy.
    let deputy = person(
        line,
        ("deputy_person_id", "deputy_name", "deputy_phone"),
        fields,
        persons,
        &mut issue,
    );
    if let (Some(h), Some(d)) = (&holder, &deputy)
        && h == d
    {
        issue(
            "deputy_person_id",
            "the deputy must not be the holder".into(),
        );
    }

    // Leave.
    let starts = fields.get("leave_starts_at");
    let ends = fields.get("leave_ends_at");
    let mut leave = Vec::new();
    match (starts.is_empty(), ends.is_empty()) {
        (true, true) => {}
        (false, true) => issue(
            "leave_ends_at",
            "leave_starts_at needs leave_ends_at".into(),
        ),
        (true, false) => issue(
            "leave_starts_at",
            "leave_ends_at needs leave_starts_at".into(),
        ),
        (false, false) => {
            let parse = |s: &str, name: &str| {
                OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
                    (
                        name.to_owned(),
                        format!("{s:?} is not an rfc 3339 time: {e}").to_lowercase(),
                    )
                })
            };
            match (
                parse(starts, "leave_starts_at"),
                parse(ends, "leave_ends_at"),
            ) {
                (Ok(from), Ok(until)) if from < until => {
                    if vacant {
                        issue("leave_starts_at", "leave given for a vacant post".into());
                    }
                    leave.push(LeavePeriod { from, until });
                }
                (Ok(_), Ok(_)) => {
                    issue("leave_ends_at", "leave must end after it starts".into());
                }
                (a, b) => {
                    for (name, reason) in [a.err(), b.err()].into_iter().flatten() {
                        issue(&name, reason);
                    }
                }
            }
        }
    }

    let (area_code, level) = post_level?;
    Some(Post {
        area_code,
        level,
        holder,
        deputy,
        leave,
    })
}

/// Reads a person (holder or deputy) from the three columns named in `cols`. An empty id
/// means nobody, and then the name and phone must be empty too.
fn person(
    line: u64,
    cols @ (id_col, name_col, phone_col): (&str, &str, &str),
    fields: &Fields<'_>,
    persons: &mut Persons,
    issue: &mut dyn FnMut(&str, String),
) -> Option<PersonId> {
    let (id, name, phone) = (
        fields.get(id_col),
        fields.get(name_col),
        fields.get(phone_col),
    );
    if id.is_empty() {
        for (col, v) in [(name_col, name), (phone_col, phone)] {
            if !v.is_empty() {
                issue(col, format!("given without {id_col}"));
            }
        }
        return None;
    }
    let id = match PersonId::new(id) {
        Ok(id) => id,
        Err(e) => {
            issue(id_col, e.reason);
            return None;
        }
    };
    let n = name.chars().count();
    if n > MAX_NAME_CHARS {
        issue(
            name_col,
            format!("must be at most {MAX_NAME_CHARS} characters, it has {n}"),
        );
    }
    // A holder must be named on their row; a deputy may be named on another row.
    if n == 0 && id_col == "person_id" {
        issue(name_col, format!("missing name for person {id}"));
    }
    let phone = if phone.is_empty() {
        None
    } else {
        match normalise_phone(phone) {
            Some(p) => Some(p),
            None => {
                issue(
                    phone_col,
                    format!("{phone:?} is not a mainland mobile number (1[3-9] and 9 more digits)"),
                );
                None
            }
        }
    };
    let mut local = Vec::new();
    persons.note(
        &id,
        (n > 0).then_some(name),
        phone.as_deref(),
        line,
        (cols.1, cols.2),
        &mut local,
    );
    for i in local {
        issue(&i.field, i.reason);
    }
    Some(id)
}

/// `+86 138-0013-8000` → `13800138000`; `None` unless it is a mainland mobile number.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = compact.strip_prefix("+86").unwrap_or(&compact);
    let b = digits.as_bytes();
    let ok = b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit);
    ok.then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::normalise_phone;

    #[test]
    fn phones_are_normalised() {
        assert_eq!(
            normalise_phone("13800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalise_phone("+86 138-0013-8000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalise_phone("+8613800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(normalise_phone("12800138000"), None);
        assert_eq!(normalise_phone("1380013800"), None);
        assert_eq!(normalise_phone("138001380001"), None);
        assert_eq!(normalise_phone("0431-88888888"), None);
        assert_eq!(normalise_phone("１３８００１３８０００"), None);
        assert_eq!(normalise_phone("+86"), None);
    }
}
