-- What happened to whom, in the "analytics" database. "if not exists": the baseline
-- migration adopts a table that an earlier version of the example created.
create table if not exists events (
    id integer primary key,
    kind varchar(20) not null,
    subject varchar(100) not null
);
