-- TFB's World table. tfb_server fills it with 10,000 random rows when it finds it
-- empty (random numbers are not portable SQL between PostgreSQL and SQLite). "if not
-- exists": the baseline migration adopts a table an earlier tfb_server --init created.
create table if not exists world (
    id integer primary key,
    randomnumber integer not null
);
