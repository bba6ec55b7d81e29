//! One district's part of the tree: the district, its subdistricts as vertical bands,
//! streets as horizontal bands of those, lanes as vertical bands of streets, unit grids
//! clipped to the district, and buildings and units in the grids that are whole cells.

use std::collections::BTreeMap;

use geo::{Area as _, BoundingRect, Coord, MultiPolygon, Orient, Rect, orient::Direction};
use rand::Rng;
use rand::rngs::StdRng;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox, MAX_CODE_LEN};
use wuzhang_spatial::synth::{CellId, UnitLattice, unit_grids_clipped};
use wuzhang_spatial::wkb_io::multipolygon_to_wkb;
use wuzhang_store::AreaRecord;

use crate::input::{DistrictInput, Division};
use crate::tiling::{band_edges, band_of, cut, lattice_of, node_touches, split_balanced};
use crate::{Options, SynthError};

/// Most grids one community may hold: the grid's sequence within it has three digits.
const MAX_GRIDS_PER_COMMUNITY: usize = 999;

/// Cut pieces smaller than this fraction of a cell (0.01 m² for 100 m cells) are rounding
/// slivers of the overlay, not places anyone reports from; they are dropped.
const MIN_PIECE: f64 = 1e-6;

/// Side of a synthetic building footprint, in metres (smaller when cells are crowded).
const BUILDING_M: f64 = 20.0;

/// Records by level, in the order of [`AreaLevel::ALL`]; each district adds its own.
pub(crate) type Levels = [Vec<AreaRecord>; 7];

fn push(levels: &mut Levels, r: AreaRecord) {
    levels[r.area.level as usize].push(r);
}

/// One unit cell, clipped to the district.
struct Cell {
    id: CellId,
    geom: MultiPolygon<f64>,
    /// Whole (not cut by the district boundary): only these get buildings.
    full: bool,
}

pub(crate) struct DistrictSpec<'a> {
    pub(crate) input: &'a DistrictInput,
    pub(crate) valid: &'a MultiPolygon<f64>,
    pub(crate) subdistricts: &'a [Division],
    pub(crate) communities: &'a BTreeMap<AreaCode, Vec<Division>>,
    pub(crate) cell_m: f64,
}

fn code(s: String) -> Result<AreaCode, SynthError> {
    // Synthetic codes extend valid input codes with ASCII letters and digits, so only
    // their length can be wrong; checking it here keeps the code for the error without
    // copying every one of millions of codes.
    if s.len() > MAX_CODE_LEN {
        return Err(SynthError::Code {
            code: s,
            reason: format!("must be at most {MAX_CODE_LEN} characters"),
        });
    }
    AreaCode::new(s).map_err(|e| SynthError::Code {
        code: String::new(),
        reason: e.reason,
    })
}

fn bbox_of(mp: &MultiPolygon<f64>) -> Option<BBox> {
    mp.bounding_rect().map(|r| BBox {
        min_lng: r.min().x,
        min_lat: r.min().y,
        max_lng: r.max().x,
        max_lat: r.max().y,
    })
}

fn record(
    code: AreaCode,
    name: String,
    level: AreaLevel,
    parent: Option<&AreaCode>,
    community: Option<String>,
    geom: Option<&MultiPolygon<f64>>,
) -> AreaRecord {
    AreaRecord {
        area: Area {
            code,
            name,
            level,
            parent_code: parent.cloned(),
            community,
            bbox: geom.and_then(bbox_of),
        },
        geometry_wkb: geom.map(multipolygon_to_wkb),
    }
}

/// A lane: its code and the cells (indexes into the district's cells) it holds.
struct Lane {
    code: AreaCode,
    cells: Vec<usize>,
}

pub(crate) fn district_areas(
    spec: &DistrictSpec<'_>,
    opts: &Options,
    rng: &mut StdRng,
    out: &mut Levels,
) -> Result<(), SynthError> {
    let d = spec.input;
    let valid = spec.valid;
    push(
        out,
        record(
            d.code.clone(),
            d.name.clone(),
            AreaLevel::District,
            None,
            None,
            Some(valid),
        ),
    );
    let (Some(lattice), Some(frame)) = (lattice_of(valid, spec.cell_m), valid.bounding_rect())
    else {
        return Err(SynthError::EmptyDistrict(d.code.to_string()));
    };
    let cells = clipped_cells(valid, &lattice, spec.cell_m);
    // Room for this district's grids, buildings and units up front: growing vectors of
    // millions of records by doubling copies them over and over.
    let full = cells.iter().filter(|c| c.full).count();
    let buildings_n = full * opts.buildings_per_grid as usize;
    out[AreaLevel::Grid as usize].reserve(cells.len());
    out[AreaLevel::Building as usize].reserve(buildings_n);
    out[AreaLevel::Unit as usize].reserve(buildings_n * opts.units_per_building as usize);

    // The district's own subdistricts, or one made up when the list has none.
    let synthetic;
    let subs = if spec.subdistricts.is_empty() {
        synthetic = [Division {
            code: code(format!("{}001", d.code))?,
            name: format!("{}街道", d.name),
        }];
        &synthetic[..]
    } else {
        spec.subdistricts
    };

    let cols = cells.iter().map(|c| c.id.col + 1).max().unwrap_or(0) as usize;
    let rows = cells.iter().map(|c| c.id.row + 1).max().unwrap_or(0) as usize;
    let mut per_col = vec![0usize; cols];
    for c in &cells {
        per_col[c.id.col as usize] += 1;
    }
    let too_coarse = || SynthError::TooCoarse {
        district: d.code.to_string(),
        cell_m: spec.cell_m,
        columns: per_col.iter().filter(|&&n| n > 0).count(),
        subdistricts: subs.len(),
    };
    let sub_bounds = split_balanced(&per_col, subs.len()).ok_or_else(too_coarse)?;
    let mut by_sub: Vec<Vec<usize>> = vec![Vec::new(); subs.len()];
    for (i, c) in cells.iter().enumerate() {
        by_sub[band_of(&sub_bounds, c.id.col)].push(i);
    }

    let lng = |c: u32| lattice.lng(c);
    let lat = |r: u32| lattice.lat(r);
    let (min, max) = (frame.min(), frame.max());
    let inner = |bounds: &[u32], line: &dyn Fn(u32) -> f64| -> Vec<f64> {
        bounds[1..bounds.len() - 1]
            .iter()
            .map(|&b| line(b))
            .collect()
    };
    let sub_lines = inner(&sub_bounds, &lng);
    let all_ys = [min.y - 1.0, max.y + 1.0];
    let all_xs = [min.x - 1.0, max.x + 1.0];

    let mut lanes: Vec<Lane> = Vec::new();
    let mut grid_order: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (s, sub) in subs.iter().enumerate() {
        // Streets: horizontal bands of this subdistrict's cells.
        let mut per_row = vec![0usize; rows];
        for &i in &by_sub[s] {
            per_row[cells[i].id.row as usize] += 1;
        }
        let nonzero_rows = per_row.iter().filter(|&&n| n > 0).count();
        let n_streets = rng.random_range(2..=4usize).min(nonzero_rows);
        let street_bounds = split_balanced(&per_row, n_streets).ok_or_else(too_coarse)?;
        let mut by_street: Vec<Vec<usize>> = vec![Vec::new(); n_streets];
        for &i in &by_sub[s] {
            by_street[band_of(&street_bounds, cells[i].id.row)].push(i);
        }
        // Lanes: vertical bands of each street, within the subdistrict's columns.
        let (c0, c1) = (sub_bounds[s], sub_bounds[s + 1]);
        let mut lane_bounds = Vec::with_capacity(n_streets);
        for street_cells in &by_street {
            let mut counts = vec![0usize; (c1 - c0) as usize];
            for &i in street_cells {
                counts[(cells[i].id.col - c0) as usize] += 1;
            }
            let nonzero = counts.iter().filter(|&&n| n > 0).count();
            let n_lanes = rng.random_range(2..=3usize).min(nonzero);
            let mut b = split_balanced(&counts, n_lanes).ok_or_else(too_coarse)?;
            b.iter_mut().for_each(|x| *x += c0);
            lane_bounds.push(b);
        }

        let mut xs = sub_lines.clone();
        for b in &lane_bounds {
            xs.extend(inner(b, &lng));
        }
        let ys = inner(&street_bounds, &lat);
        let sub_x = band_edges(&sub_bounds, s, lng, min.x, max.x);
        let sub_geom = cut(valid, [sub_x.0, sub_x.1], all_ys, &xs, &ys);
        check_nonempty(&sub_geom, &sub.code)?;
        push(
            out,
            record(
                sub.code.clone(),
                sub.name.clone(),
                AreaLevel::Subdistrict,
                Some(&d.code),
                None,
                Some(&sub_geom),
            ),
        );

        let first_lane = lanes.len();
        for (t, street_cells) in by_street.iter().enumerate() {
            let street_code = code(format!("{}S{:02}", sub.code, t + 1))?;
            let street_name = format!("{}第{}街", sub.name, t + 1);
            let street_y = band_edges(&street_bounds, t, lat, min.y, max.y);
            let street_geom = cut(&sub_geom, all_xs, [street_y.0, street_y.1], &xs, &ys);
            check_nonempty(&street_geom, &street_code)?;
            let lb = &lane_bounds[t];
            let mut lane_cells: Vec<Vec<usize>> = vec![Vec::new(); lb.len() - 1];
            for &i in street_cells {
                lane_cells[band_of(lb, cells[i].id.col)].push(i);
            }
            for (l, lane_cells) in lane_cells.into_iter().enumerate() {
                let lane_code = code(format!("{street_code}L{:02}", l + 1))?;
                // Lane bands reach past the subdistrict on its outer sides: the street
                // already stops there.
                let lane_x = band_edges(lb, l, lng, min.x, max.x);
                let lane_geom = cut(&street_geom, [lane_x.0, lane_x.1], all_ys, &xs, &ys);
                check_nonempty(&lane_geom, &lane_code)?;
                push(
                    out,
                    record(
                        lane_code.clone(),
                        format!("{street_name}第{}路", l + 1),
                        AreaLevel::Lane,
                        Some(&street_code),
                        None,
                        Some(&lane_geom),
                    ),
                );
                lanes.push(Lane {
                    code: lane_code,
                    cells: lane_cells,
                });
            }
            push(
                out,
                record(
                    street_code,
                    street_name,
                    AreaLevel::Street,
                    Some(&sub.code),
                    None,
                    Some(&street_geom),
                ),
            );
        }
        grid_order.push((s, first_lane..lanes.len()));
    }

    for (s, lane_range) in grid_order {
        let sub = &subs[s];
        let in_order: Vec<(usize, usize)> = lanes[lane_range.clone()]
            .iter()
            .enumerate()
            .flat_map(|(l, lane)| lane.cells.iter().map(move |&i| (lane_range.start + l, i)))
            .collect();
        let real = spec
            .communities
            .get(&sub.code)
            .map_or(&[][..], Vec::as_slice);
        let comms = communities_for(sub, real, in_order.len())?;
        let n = comms.len();
        for (k, comm) in comms.iter().enumerate() {
            let chunk = &in_order[k * in_order.len() / n..(k + 1) * in_order.len() / n];
            debug_assert!(chunk.len() <= MAX_GRIDS_PER_COMMUNITY);
            for (seq, &(lane, i)) in chunk.iter().enumerate() {
                let seq = seq + 1;
                let grid_code = code(format!("{}{seq:03}", comm.code))?;
                let grid_name = format!("{}第{seq}网格", comm.name);
                let cell = &cells[i];
                if cell.full {
                    buildings(
                        out,
                        &grid_code,
                        &grid_name,
                        cell.id,
                        &lattice,
                        spec.cell_m,
                        opts,
                        rng,
                    )?;
                }
                push(
                    out,
                    record(
                        grid_code,
                        grid_name,
                        AreaLevel::Grid,
                        Some(&lanes[lane].code),
                        Some(comm.name.clone()),
                        Some(&cell.geom),
                    ),
                );
            }
        }
    }
    Ok(())
}

fn check_nonempty(mp: &MultiPolygon<f64>, code: &AreaCode) -> Result<(), SynthError> {
    if mp.0.is_empty() {
        return Err(SynthError::EmptyGeometry(code.to_string()));
    }
    Ok(())
}

/// The unit cells of the lattice clipped to the district, with the cell each came from.
fn clipped_cells(valid: &MultiPolygon<f64>, lattice: &UnitLattice, cell_m: f64) -> Vec<Cell> {
    let mut ids = Vec::new();
    let placeholder = AreaCode::new("x").expect("a valid code");
    let pieces = unit_grids_clipped(valid, cell_m, |id| {
        ids.push(id);
        placeholder.clone()
    });
    debug_assert_eq!(ids.len(), pieces.len());
    let cell_area = lattice.dlng * lattice.dlat;
    ids.into_iter()
        .zip(pieces)
        .filter_map(|(id, (_, geom))| {
            let a = geom.unsigned_area();
            if a < MIN_PIECE * cell_area {
                return None;
            }
            let full = geom.0.len() == 1
                && geom.0[0].interiors().is_empty()
                && a >= cell_area * (1.0 - 1e-9);
            let geom = if full {
                // The same region; written the one canonical way.
                MultiPolygon::new(vec![lattice.cell(id)])
            } else {
                node_touches(geom.orient(Direction::Default))
            };
            Some(Cell { id, geom, full })
        })
        .collect()
}

/// The communities a subdistrict's `grids` grids are shared out to: its real ones, or a
/// made-up `{subdistrict}001` when it has none, plus made-up extra codes when the real ones
/// would hold more than [`MAX_GRIDS_PER_COMMUNITY`] grids each.
fn communities_for(
    sub: &Division,
    real: &[Division],
    grids: usize,
) -> Result<Vec<Division>, SynthError> {
    let mut comms = real.to_vec();
    let needed = grids.div_ceil(MAX_GRIDS_PER_COMMUNITY).max(1);
    let mut next = 1u32;
    while comms.len() < needed {
        if next > 999 {
            return Err(SynthError::TooManyGrids {
                subdistrict: sub.code.to_string(),
                grids,
            });
        }
        let c = code(format!("{}{next:03}", sub.code))?;
        next += 1;
        if real.iter().any(|r| r.code == c) {
            continue;
        }
        let name = format!("{}{}社区", sub.name, &c.as_str()[sub.code.as_str().len()..]);
        comms.push(Division { code: c, name });
    }
    Ok(comms)
}

/// `opts.buildings_per_grid` square footprints in a whole cell, one per slot of a k × k
/// split of the cell (so they never overlap), each at a random place in its slot, and
/// their units.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn buildings(
    out: &mut Levels,
    grid_code: &AreaCode,
    grid_name: &str,
    id: CellId,
    lattice: &UnitLattice,
    cell_m: f64,
    opts: &Options,
    rng: &mut StdRng,
) -> Result<(), SynthError> {
    let n = opts.buildings_per_grid as usize;
    if n == 0 {
        return Ok(());
    }
    let k = (n as f64).sqrt().ceil() as usize;
    let (slot_w, slot_h) = (lattice.dlng / k as f64, lattice.dlat / k as f64);
    // Side as a fraction of a slot: 20 m, or 60 % of the slot in small or crowded cells.
    let side = (BUILDING_M * k as f64 / cell_m).min(0.6);
    // A partial shuffle picks n of the k² slots (k ≤ 10 as n ≤ 99) without allocating.
    let mut slots = [0u8; 100];
    for (i, s) in slots.iter_mut().enumerate().take(k * k) {
        *s = i as u8;
    }
    for i in 0..n {
        let j = rng.random_range(i..k * k);
        slots.swap(i, j);
    }
    for (b, &slot) in slots[..n].iter().enumerate() {
        let slot = usize::from(slot);
        let (sx, sy) = ((slot % k) as f64, (slot / k) as f64);
        // Free space either side of the footprint: at least 10 % of the slot each.
        let free = 1.0 - side - 0.2;
        let fx = 0.1 + rng.random::<f64>() * free;
        let fy = 0.1 + rng.random::<f64>() * free;
        let x0 = lattice.lng(id.col) + (sx + fx) * slot_w;
        let y0 = lattice.lat(id.row) + (sy + fy) * slot_h;
        let rect = Rect::new(
            Coord { x: x0, y: y0 },
            Coord {
                x: x0 + side * slot_w,
                y: y0 + side * slot_h,
            },
        );
        let footprint = MultiPolygon::new(vec![rect.to_polygon().orient(Direction::Default)]);
        let building_code = code(format!("{grid_code}B{:02}", b + 1))?;
        let building_name = format!("{grid_name}{}号楼", b + 1);
        for u in 1..=opts.units_per_building {
            push(
                out,
                record(
                    code(format!("{building_code}U{u}"))?,
                    format!("{building_name}{u}单元"),
                    AreaLevel::Unit,
                    Some(&building_code),
                    None,
                    None,
                ),
            );
        }
        push(
            out,
            record(
                building_code,
                building_name,
                AreaLevel::Building,
                Some(grid_code),
                None,
                Some(&footprint),
            ),
        );
    }
    Ok(())
}
