create trigger tr after insert on t begin update t set x = 1; delete from u; end;
/* block; comment */ select 1;
