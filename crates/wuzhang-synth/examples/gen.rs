//! Generates the tree over every Changchun district and reports counts and timings.
//!
//! ```text
//! cargo run --release -p wuzhang-synth --example gen -- [TARGET_GRIDS] [--out DIR] [--check]
//! ```
//!
//! With `TARGET_GRIDS` the cell size is chosen for about that many grids and no
//! buildings are made (the benchmark setting); without it the defaults apply (100 m cells,
//! two buildings per whole cell). The GeoJSON and roster CSV are written to `DIR` when
//! given, else to a sink (still timed). `--check` runs OGC validation on every geometry.

use std::fs::File;
use std::io;
use std::time::Instant;

use geo::Validation;
use time::macros::datetime;
use wuzhang_synth::{Inputs, Options, generate, write_geojson, write_roster_csv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = Options::default();
    let mut out_dir = None;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out_dir = args.next(),
            "--check" => check = true,
            n => {
                opts.target_grids = Some(n.parse()?);
                opts.buildings_per_grid = 0;
            }
        }
    }
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/changchun");
    let t = Instant::now();
    let inputs = Inputs::read(
        format!("{data}/districts.geojson"),
        format!("{data}/divisions.csv"),
    )?;
    println!("read inputs: {:.2?}", t.elapsed());

    let t = Instant::now();
    let tree = generate(&inputs, &opts, datetime!(2026-05-01 09:00 +08:00))?;
    println!(
        "generated in {:.2?} with {:.1} m cells: {}",
        t.elapsed(),
        tree.cell_m,
        tree.summary()
    );

    let t = Instant::now();
    match &out_dir {
        Some(dir) => {
            write_geojson(&tree, File::create(format!("{dir}/areas.geojson"))?)?;
            println!("wrote {dir}/areas.geojson: {:.2?}", t.elapsed());
        }
        None => {
            write_geojson(&tree, io::sink())?;
            println!("geojson to a sink: {:.2?}", t.elapsed());
        }
    }
    let t = Instant::now();
    match &out_dir {
        Some(dir) => {
            write_roster_csv(&tree, File::create(format!("{dir}/roster.csv"))?)?;
            println!("wrote {dir}/roster.csv: {:.2?}", t.elapsed());
        }
        None => {
            write_roster_csv(&tree, io::sink())?;
            println!("roster csv to a sink: {:.2?}", t.elapsed());
        }
    }

    if check {
        let t = Instant::now();
        let mut invalid = 0;
        for r in &tree.areas {
            if let Some(wkb) = &r.geometry_wkb {
                let mp = wuzhang_spatial::wkb_io::multipolygon_from_wkb(wkb)?;
                if !mp.is_valid() {
                    invalid += 1;
                    if invalid <= 5 {
                        println!("invalid {}: {:?}", r.area.code, mp.validation_errors());
                    }
                }
            }
        }
        println!("{invalid} invalid geometries ({:.2?})", t.elapsed());
    }
    Ok(())
}
