-- The children of an area at the levels asked for (`subtree`, walked level by level) in
-- one index. With an index on `parent_code` alone, beside `(level, code)`, the planner
-- could AND the two bitmaps; where its statistics are stale (a district's roster imported
-- a minute ago: 570,000 areas, planned as if 13,000) it did, reading the whole level index
-- once per area of the tree: 380 s for the campaign of one subdistrict's 30,000 units
-- instead of milliseconds.
CREATE INDEX areas_parent_level_idx ON areas (parent_code, level, code);
DROP INDEX areas_parent_code_idx;
