drop table fortune;
