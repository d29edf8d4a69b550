select E'it''s \' ;' ; select "a;b" from x;
