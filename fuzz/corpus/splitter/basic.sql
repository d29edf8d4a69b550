create table t (id integer primary key, name text default 'a;b');
-- comment; here
insert into t values (1, 'x');
