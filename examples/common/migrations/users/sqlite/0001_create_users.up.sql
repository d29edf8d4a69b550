-- The seed's users table: an id assigned by the database and a unique name.
-- "integer primary key" makes the id an alias of the rowid, assigned on insert.
-- "if not exists": the baseline migration adopts a table that an earlier version of the
-- example created without migrations.
create table if not exists users (
    id integer primary key,
    username varchar(100) not null unique
);
