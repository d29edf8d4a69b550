-- What happened to whom, in the "analytics" database.
create table events (
    id integer primary key,
    kind varchar(20) not null,
    subject varchar(100) not null
);
