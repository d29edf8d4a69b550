-- TFB's World table. tfb_server fills it with 10,000 random rows when it finds it
-- empty (random numbers are not portable SQL between PostgreSQL and SQLite).
create table world (
    id integer primary key,
    randomnumber integer not null
);
