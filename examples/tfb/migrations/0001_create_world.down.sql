drop table world;
