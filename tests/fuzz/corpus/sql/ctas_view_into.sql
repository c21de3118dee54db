CREATE TABLE x AS SELECT *, row_number() OVER (PARTITION BY region ORDER BY name) AS rn FROM s.customers;
CREATE VIEW v AS SELECT id FROM x;
SELECT amount INTO y FROM orders