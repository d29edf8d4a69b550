-- The seed's users table: an id assigned by the database and a unique name.
-- "integer primary key" makes the id an alias of the rowid, assigned on insert.
create table users (
    id integer primary key,
    username varchar(100) not null unique
);
