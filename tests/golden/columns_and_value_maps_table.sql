SET VARIABLE rr_tz_797d8bd889fd_ws = ?::BIGINT[];

SET VARIABLE rr_tz_797d8bd889fd_we = ?::BIGINT[];

SET VARIABLE rr_tz_797d8bd889fd_ob = ?::BIGINT[];

SET VARIABLE rr_tz_797d8bd889fd_oa = ?::BIGINT[];

CREATE OR REPLACE TABLE norm AS SELECT
  s.__row AS __row,
  s.__row AS source_row,
  CAST(s.__ri AS UTINYINT) AS __ri,
  CASE WHEN s.__ri IS NOT NULL THEN CASE s.__ri WHEN 1 THEN 'column id is empty: no incident number' WHEN 2 THEN 'column rec (received): ' || chr(39) || left(CASE WHEN prefix(s."rec", ' ') OR suffix(s."rec", ' ') OR length(s."rec") <> strlen(s."rec") THEN (CASE WHEN trim(s."rec") = '' OR trim(s."rec") IN ('NULL', 'null', 'N/A') THEN NULL ELSE trim(s."rec") END) WHEN s."rec" = '' OR s."rec" IN ('NULL', 'null', 'N/A') THEN NULL ELSE s."rec" END, 200) || ''' matches none of the formats %Y-%m-%d %H:%M:%S' WHEN 3 THEN 'column rec (received) is empty: no received time' END END AS "__message",
  CASE WHEN s.__ri IS NOT NULL THEN CAST(to_json(struct_pack(s."id", s."rec", s."type", s."prio", s."src", s."disp", s."dist")) AS VARCHAR) END AS "__record",
  s.__s0 AS "call_id",
  s.__t01 AS "received",
  CAST(NULL AS TIMESTAMPTZ) AS "dispatched",
  CAST(NULL AS TIMESTAMPTZ) AS "enroute",
  CAST(NULL AS TIMESTAMPTZ) AS "arrived",
  CAST(NULL AS TIMESTAMPTZ) AS "cleared",
  s.__t00 AS "received_local",
  s.__s1 AS "call_type",
  s.__s3 AS "priority_raw",
  s.__s4 AS "origin_raw",
  s.__s5 AS "disposition_raw",
  s.__s2 AS "district",
  CASE WHEN (CAST(NULL AS TIMESTAMPTZ) < s.__t01) OR (CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ)) OR (CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ)) OR (CAST(NULL AS TIMESTAMPTZ) < s.__t01 OR CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ)) OR (epoch_us(CAST(NULL AS TIMESTAMPTZ)) - epoch_us(s.__t01) > 86400000000) THEN nullif(concat_ws(';', CASE WHEN CAST(NULL AS TIMESTAMPTZ) < s.__t01 THEN 'dispatched_before_received' END, CASE WHEN CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ) THEN 'arrived_before_dispatched' END, CASE WHEN CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ) THEN 'cleared_before_arrival' END, CASE WHEN CAST(NULL AS TIMESTAMPTZ) < s.__t01 OR CAST(NULL AS TIMESTAMPTZ) < CAST(NULL AS TIMESTAMPTZ) THEN 'negative_duration' END, CASE WHEN epoch_us(CAST(NULL AS TIMESTAMPTZ)) - epoch_us(s.__t01) > 86400000000 THEN 'over_24h' END), '') END AS "time_issue",
  CAST(year(s.__t00) AS INTEGER) AS "year"
FROM (SELECT s.*, CASE WHEN s.__s0 IS NULL THEN 1 WHEN s.__t00 IS NULL AND CASE WHEN prefix(s."rec", ' ') OR suffix(s."rec", ' ') OR length(s."rec") <> strlen(s."rec") THEN (CASE WHEN trim(s."rec") = '' OR trim(s."rec") IN ('NULL', 'null', 'N/A') THEN NULL ELSE trim(s."rec") END) WHEN s."rec" = '' OR s."rec" IN ('NULL', 'null', 'N/A') THEN NULL ELSE s."rec" END IS NOT NULL THEN 2 WHEN s.__t01 IS NULL THEN 3 END AS __ri FROM (SELECT s.*, coalesce(make_timestamptz(epoch_us(s.__t00) - (CASE WHEN (epoch_us(s.__t00) // 86400000000) < 7305 OR (epoch_us(s.__t00) // 86400000000) >= 32872 THEN NULL WHEN (epoch_us(s.__t00) // 86400000000) < getvariable('rr_tz_797d8bd889fd_ws')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] THEN getvariable('rr_tz_797d8bd889fd_ob')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] WHEN (epoch_us(s.__t00) // 86400000000) > getvariable('rr_tz_797d8bd889fd_we')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] THEN getvariable('rr_tz_797d8bd889fd_oa')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] WHEN getvariable('rr_tz_797d8bd889fd_ws')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] IS NULL THEN getvariable('rr_tz_797d8bd889fd_ob')[((epoch_us(s.__t00) // 86400000000) - 7305) // 64 + 1] END)), timezone('America/Chicago', s.__t00)) AS __t01 FROM (SELECT s.*, coalesce(try_strptime(s."rec", ['%Y-%m-%d %H:%M:%S']), try_strptime(CASE WHEN prefix(s."rec", ' ') OR suffix(s."rec", ' ') OR length(s."rec") <> strlen(s."rec") THEN (CASE WHEN trim(s."rec") = '' OR trim(s."rec") IN ('NULL', 'null', 'N/A') THEN NULL ELSE trim(s."rec") END) WHEN s."rec" = '' OR s."rec" IN ('NULL', 'null', 'N/A') THEN NULL ELSE s."rec" END, ['%Y-%m-%d %H:%M:%S'])) AS __t00 FROM (SELECT src.*, CASE WHEN prefix("id", ' ') OR suffix("id", ' ') OR length("id") <> strlen("id") THEN (CASE WHEN trim("id") = '' OR trim("id") IN ('NULL', 'null', 'N/A') THEN NULL ELSE trim("id") END) WHEN "id" = '' OR "id" IN ('NULL', 'null', 'N/A') THEN NULL ELSE "id" END AS __s0, "type" AS __s1, "dist" AS __s2, "prio" AS __s3, "src" AS __s4, "disp" AS __s5 FROM "raw" src) s) s) s ) s;

CREATE OR REPLACE VIEW norm_v AS SELECT s.*, CASE s.__ri WHEN 1 THEN 'missing_call_id' WHEN 2 THEN 'unparseable_timestamp' WHEN 3 THEN 'missing_received' END AS "__reason", CASE s.__ri WHEN 1 THEN 'id' WHEN 2 THEN 'rec' WHEN 3 THEN 'rec' END AS "__column" FROM norm s;

CREATE OR REPLACE TABLE norm_m00 AS SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[])::SMALLINT AS v;

CREATE OR REPLACE TABLE norm_m01 AS SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[])::ENUM('911', 'officer_initiated') AS v;

CREATE OR REPLACE TABLE norm_m02 AS SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[])::ENUM('cancelled', 'report') AS v;

CREATE OR REPLACE VIEW norm_out AS SELECT s.* REPLACE (CAST(CASE WHEN prefix(s."call_type", ' ') OR suffix(s."call_type", ' ') OR length(s."call_type") <> strlen(s."call_type") THEN (CASE WHEN trim(s."call_type") = '' OR trim(s."call_type") IN ('NULL', 'null', 'N/A') THEN NULL ELSE trim(s."call_type") END) WHEN s."call_type" = '' OR s."call_type" IN ('NULL', 'null', 'N/A') THEN NULL ELSE s."call_type" END AS ENUM('NOISE', 'THEFT')) AS "call_type", CAST(s."priority_raw" AS ENUM('P2', 'P3')) AS "priority_raw", CAST(s."origin_raw" AS ENUM('911', 'SELF')) AS "origin_raw", CAST(s."disposition_raw" AS ENUM('CANX', 'RPT')) AS "disposition_raw", CAST(s."district" AS ENUM('D1', 'D2')) AS "district"), CAST(norm_m00.v AS SMALLINT) AS "priority_rank", norm_m01.v AS "origin", norm_m02.v AS "outcome", CAST('police' AS ENUM('police')) AS "service", CAST('cad' AS ENUM('cad')) AS "channel", CAST(NULL AS VARCHAR) AS "call_type_code", CAST(NULL AS VARCHAR) AS "initial_call_type_code", CAST(NULL AS VARCHAR) AS "initial_call_type", try_cast(CAST(NULL AS VARCHAR) AS INTEGER) AS "units_assigned", CAST(NULL AS VARCHAR) AS "beat", CAST(NULL AS VARCHAR) AS "location", try_cast(CAST(NULL AS VARCHAR) AS DOUBLE) AS "latitude", try_cast(CAST(NULL AS VARCHAR) AS DOUBLE) AS "longitude", CAST(NULL AS VARCHAR) AS "narrative", CAST('T' AS ENUM('T')) AS "agency", CAST('in.csv' AS ENUM('in.csv')) AS "source_file", CAST('America/Chicago' AS ENUM('America/Chicago')) AS "timezone" FROM norm_v s LEFT JOIN norm_m00 ON norm_m00.k IS NOT DISTINCT FROM (s."priority_raw")
LEFT JOIN norm_m01 ON norm_m01.k IS NOT DISTINCT FROM (s."origin_raw")
LEFT JOIN norm_m02 ON norm_m02.k IS NOT DISTINCT FROM (s."disposition_raw");
