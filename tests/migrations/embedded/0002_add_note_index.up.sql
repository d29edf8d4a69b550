CREATE INDEX notes_body ON notes (body);
INSERT INTO notes (id, body) VALUES (1, 'it''s; fine');
