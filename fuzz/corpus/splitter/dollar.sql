create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql;
select f();
