//! The in-process index and PostGIS must place every point in the same grid, border
//! points included (the documented rule: among grids whose closed polygon contains the
//! point, the smallest code). A wrong grid is a ticket sent to the wrong chief.

use wuzhang_bench::points;
use wuzhang_bench::postgis::Scratch;
#[path = "../harness.rs"]
mod harness;
use harness::{data_file, fresh_pg_url};
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::synth::{changchun_grids, changchun_lattice};

/// Compares the index and PostGIS on `pts`; returns how many points found a grid.
async fn agree(index: &GridIndex, scratch: &Scratch, pts: &[(f64, f64)]) -> usize {
    let mut found = 0;
    for chunk in pts.chunks(10_000) {
        let pg = scratch.locate_many(chunk).await.unwrap();
        for (&(lng, lat), pg) in chunk.iter().zip(pg) {
            let ours = index.locate(lng, lat).map(|h| h.code.to_owned());
            assert_eq!(ours, pg, "index and PostGIS disagree at ({lng}, {lat})");
            found += usize::from(ours.is_some());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_and_postgis_agree_on_100k_synthetic_grids() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    const N: usize = 100_000;
    let grids: Vec<_> = changchun_grids(N).collect();
    let index = GridIndex::build(grids.iter().cloned());
    let scratch = Scratch::create(&url, 2).await.unwrap();
    assert_eq!(scratch.load(grids).await.unwrap(), N);

    let lattice = changchun_lattice(N);
    let cols = (N as f64).sqrt().ceil() as u32;
    let rows = (N as u32).div_ceil(cols);
    // A margin around the block, so some points fall outside every grid.
    let min = (lattice.lng(0) - 0.01, lattice.lat(0) - 0.01);
    let max = (lattice.lng(cols) + 0.01, lattice.lat(rows) + 0.01);
    let mut pts = points::random(80_000, min, max, 7);
    pts.extend(points::on_lattice(20_000, &lattice, rows, cols, 8));
    assert_eq!(pts.len(), 100_000);
    let found = agree(&index, &scratch, &pts).await;
    // Most points are inside the block; the check is meaningful only if both sides find
    // grids (and some points are outside).
    assert!(found > 90_000 && found < 100_000, "found {found}");
    scratch.drop_schema().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_and_postgis_agree_on_the_repaired_changchun_districts() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let options = wuzhang_import::AreaOptions {
        default_level: Some(wuzhang_domain::area::AreaLevel::District),
        repair: true,
        ..Default::default()
    };
    let import =
        wuzhang_import::import_areas(&data_file("changchun/districts.geojson"), &options, &|_| {
            None
        })
        .unwrap();
    let records = import
        .into_records()
        .expect("the repaired districts import");
    assert_eq!(records.len(), 10);
    let districts: Vec<_> = records
        .iter()
        .map(|r| {
            let mp = wuzhang_import::from_wkb(r.geometry_wkb.as_deref().unwrap()).unwrap();
            (r.area.code.clone(), mp)
        })
        .collect();
    let index = GridIndex::build(districts.iter().cloned());
    let scratch = Scratch::create(&url, 2).await.unwrap();
    scratch.load(districts.clone()).await.unwrap();

    // Random points over the whole city's box, plus points exactly on district vertices
    // (shared borders between neighbours are made of them).
    let (mut min, mut max) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    let mut vertices = Vec::new();
    for (_, mp) in &districts {
        for poly in &mp.0 {
            for c in &poly.exterior().0 {
                min = (min.0.min(c.x), min.1.min(c.y));
                max = (max.0.max(c.x), max.1.max(c.y));
                vertices.push((c.x, c.y));
            }
        }
    }
    let mut pts = points::random(90_000, min, max, 11);
    let step = (vertices.len() / 10_000).max(1);
    pts.extend(vertices.iter().step_by(step).take(10_000).copied());
    let found = agree(&index, &scratch, &pts).await;
    assert!(
        found > 30_000,
        "the districts fill much of their box: {found}"
    );
    scratch.drop_schema().await.unwrap();
}
