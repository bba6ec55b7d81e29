-- Years of working calendars set by the administrator (AdminService.SetCalendar), each a
-- JSON document in the shape of data/calendars/cn.json with that one year. The shipped
-- calendar is the default; a stored year replaces the shipped one of the same year.
CREATE TABLE calendar_years (
    code       TEXT NOT NULL,
    year       INTEGER NOT NULL,
    document   TEXT NOT NULL,
    updated_at BIGINT NOT NULL, -- unix microseconds
    PRIMARY KEY (code, year)
);
