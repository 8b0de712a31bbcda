-- Every rollup row of a sliceable dimension (all, source, industry, region) gets a twin
-- with team '*' totalling it over the teams, so a tenant-wide report reads a few
-- thousand rows instead of one per team (see domain/contribution.rs, ALL_TEAMS). New
-- rows are written with their totals from now on; this fills them for rows already kept.
INSERT INTO rollups (tenant_id, generation, metric, dim, dim_value, team, period, k1, k2, k3,
                     count, amount_cents)
SELECT tenant_id, generation, metric, dim, dim_value, '*', period, k1, k2, k3,
       CAST(SUM(count) AS BIGINT), CAST(SUM(amount_cents) AS BIGINT)
FROM rollups
WHERE dim <> 'rep' AND team <> '*'
GROUP BY tenant_id, generation, metric, dim, dim_value, period, k1, k2, k3;
