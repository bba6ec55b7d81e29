//! Geometry as both backends take it: OGC WKB checked and normalised to a MultiPolygon
//! with its envelope, so both accept and refuse the same input.

use wuzhang_domain::area::BBox;

/// Checks that `wkb` is a well-formed 2D Polygon or MultiPolygon (OGC WKB, either byte
/// order) with finite coordinates, and returns it as a MultiPolygon (a Polygon is wrapped)
/// with its envelope. Both backends store the result, so both accept and refuse the same
/// input and read back the same geometry type; Postgres re-encodes it in its own byte order.
pub(crate) fn normalize_wkb(wkb: &[u8]) -> std::result::Result<(Vec<u8>, BBox), String> {
    let mut r = WkbReader {
        buf: wkb,
        pos: 0,
        little: true,
        bbox: None,
    };
    let little = r.byte_order()?;
    let kind = r.u32()?;
    let out = match kind {
        6 => {
            let n = r.u32()?;
            if n == 0 {
                return Err("multipolygon has no polygons".into());
            }
            for _ in 0..n {
                r.byte_order()?;
                if r.u32()? != 3 {
                    return Err("multipolygon member is not a 2D polygon".into());
                }
                r.polygon()?;
            }
            wkb.to_vec()
        }
        3 => {
            r.polygon()?;
            let mut out = Vec::with_capacity(wkb.len() + 9);
            out.push(u8::from(little));
            let word = |v: u32| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            out.extend_from_slice(&word(6));
            out.extend_from_slice(&word(1));
            out.extend_from_slice(wkb);
            out
        }
        other => {
            return Err(format!(
                "geometry type {other} is not a 2D Polygon (3) or MultiPolygon (6)"
            ));
        }
    };
    if r.pos != wkb.len() {
        return Err(format!("{} trailing bytes", wkb.len() - r.pos));
    }
    let bbox = r.bbox.ok_or("geometry has no points")?;
    Ok((out, bbox))
}

struct WkbReader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
    bbox: Option<BBox>,
}

impl WkbReader<'_> {
    fn take<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let bytes = self
            .buf
            .get(self.pos..self.pos + N)
            .ok_or("geometry is truncated")?;
        self.pos += N;
        Ok(bytes.try_into().unwrap_or([0; N]))
    }

    fn byte_order(&mut self) -> std::result::Result<bool, String> {
        self.little = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            b => return Err(format!("bad byte order marker {b}")),
        };
        Ok(self.little)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> std::result::Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn polygon(&mut self) -> std::result::Result<(), String> {
        let rings = self.u32()?;
        if rings == 0 {
            return Err("polygon has no rings".into());
        }
        for _ in 0..rings {
            let points = self.u32()?;
            if points < 4 {
                return Err("a ring needs at least 4 points".into());
            }
            // Guards the loop below against a count larger than the buffer.
            if (points as usize).saturating_mul(16) > self.buf.len() - self.pos {
                return Err("geometry is truncated".into());
            }
            for _ in 0..points {
                let (x, y) = (self.f64()?, self.f64()?);
                if !x.is_finite() || !y.is_finite() {
                    return Err("coordinates must be finite".into());
                }
                let b = self.bbox.get_or_insert(BBox {
                    min_lng: x,
                    min_lat: y,
                    max_lng: x,
                    max_lat: y,
                });
                b.min_lng = b.min_lng.min(x);
                b.min_lat = b.min_lat.min(y);
                b.max_lng = b.max_lng.max(x);
                b.max_lat = b.max_lat.max(y);
            }
        }
        Ok(())
    }
}
