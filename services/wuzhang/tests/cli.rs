//! The command line as an administrator uses it: `token`, `migrate`, and clear errors.

use std::process::Command;

fn wuzhang(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wuzhang"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("WUZHANG_CONFIG")
        .env_remove("WUZHANG_DATABASE_URL")
        .output()
        .expect("run wuzhang")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_owned()
}

#[test]
fn minted_tokens_verify_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = wuzhang(
        dir.path(),
        &[
            "token",
            "mint",
            "--role",
            "command_center",
            "--subject",
            "cc-1",
            "--scope",
            "220102001",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let out = wuzhang(dir.path(), &["token", "verify", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "subject=cc-1 role=command_center scope=220102001"
    );

    // Another data directory has another key.
    let other = tempfile::tempdir().unwrap();
    let out = wuzhang(other.path(), &["token", "verify", &token]);
    assert!(!out.status.success());
}

#[test]
fn bad_token_arguments_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = wuzhang(dir.path(), &["token", "mint", "--role", "mayor"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("mayor"), "{}", stderr(&out));
    let out = wuzhang(
        dir.path(),
        &["token", "mint", "--role", "chief", "--subject", "p1"],
    );
    assert!(!out.status.success(), "a chief token needs a scope");
    let out = wuzhang(
        dir.path(),
        &["token", "mint", "--role", "admin", "--scope", "bad code!"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--scope"), "{}", stderr(&out));
}

#[test]
fn migrate_creates_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = wuzhang(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("wuzhang.db").exists());
    // Twice is fine.
    let out = wuzhang(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn unknown_services_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = wuzhang(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--services",
            "intake,teleport",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("teleport"), "{}", stderr(&out));
}

#[test]
fn generate_then_import_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/changchun");
    let o = wuzhang(
        dir.path(),
        &[
            "generate",
            "--out",
            out.to_str().unwrap(),
            "--districts",
            "220102",
            "--cell-m",
            "800",
            "--buildings-per-grid",
            "1",
            "--data",
            data,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("district 1,"), "{}", stdout(&o));

    let o = wuzhang(
        dir.path(),
        &["import-areas", out.join("areas.geojson").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("imported "), "{}", stdout(&o));
    let o = wuzhang(
        dir.path(),
        &["import-roster", out.join("roster.csv").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("vacant"), "{}", stdout(&o));

    // Organizations serving an area of the tree: checked, then written; an unknown area
    // is refused whole.
    let areas = std::fs::read_to_string(out.join("areas.geojson")).unwrap();
    let areas: serde_json::Value = serde_json::from_str(&areas).unwrap();
    let first = areas["features"][0]["properties"]["code"].as_str().unwrap();
    let orgs = out.join("orgs.csv");
    std::fs::write(
        &orgs,
        format!(
            "code,name,kind,org_type,areas,staff\n\
             gr-1,热力公司,department,heating,{first},G01\n"
        ),
    )
    .unwrap();
    let o = wuzhang(
        dir.path(),
        &["import-organizations", orgs.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "imported 1 organizations");
    std::fs::write(
        &orgs,
        "code,name,kind,org_type,areas,staff\ngr-2,热力,department,heating,NOPE,\n",
    )
    .unwrap();
    let o = wuzhang(
        dir.path(),
        &["import-organizations", orgs.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("line 2: areas: no area NOPE"),
        "{}",
        stderr(&o)
    );

    // The roster names areas that must exist: against an empty store it is refused whole.
    let empty = tempfile::tempdir().unwrap();
    let o = wuzhang(
        empty.path(),
        &["import-roster", out.join("roster.csv").to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nothing written"), "{}", stderr(&o));
}
