{#- Helpers for reading the landing zone (data/raw) file by file, line by line, and for deciding
    which raw rows are quarantined. -#}

{% macro raw_dir() -%}
    {{- env_var('LAKEHOUSE_RAW_DIR', '../data/raw') -}}
{%- endmacro %}

{#- The file path as stored in the warehouse: relative to the landing zone, so that the same
    files give the same rows on every machine. -#}
{% macro relative_source_file(filename_column) -%}
    replace({{ filename_column }}, {{ sql_text(raw_dir() ~ '/') }}, '')
{%- endmacro %}

{#- Number the rows of a multi-file CSV scan by their line in their file (header = line 1).
    DuckDB scans each file in order and row_number() over () follows the scan order
    (preserve_insertion_order is on by default); tests/data/test_raw_reconciliation.py checks the
    numbers against the files themselves. Spark keeps no scan order: it reads the raw files as
    Parquet landed with source_file and source_line (lakehouse.platform.spark). -#}
{% macro csv_rows_with_lines(relation) -%}
    {{ return(adapter.dispatch('csv_rows_with_lines')(relation)) }}
{%- endmacro %}

{% macro duckdb__csv_rows_with_lines(relation) -%}
    with scanned as (
        select
            *,
            row_number() over () as scan_position
        from {{ relation }}
    )

    select
        * exclude (filename, scan_position),
        {{ relative_source_file('filename') }} as source_file,
        scan_position - min(scan_position) over (partition by filename) + 2 as source_line
    from scanned
{%- endmacro %}

{% macro spark__csv_rows_with_lines(relation) -%}
    select * from {{ relation }}
{%- endmacro %}

{#- The lines of a text source, numbered from 1 in their file, as source_file, source_line and
    line_text, without a UTF-8 byte order mark at the file's start (chr(65279): JSON after it is
    JSON). DuckDB splits each file read whole (read_text); Spark reads them as Parquet landed with
    a row per line (lakehouse.platform.spark). -#}
{% macro text_file_lines(relation) -%}
    {{ return(adapter.dispatch('text_file_lines')(relation)) }}
{%- endmacro %}

{% macro duckdb__text_file_lines(relation) -%}
    {%- set text = "case when starts_with(content, chr(65279)) then content[2:] else content end" -%}
    {%- set lines = "string_split(" ~ text ~ ", chr(10))" -%}
    select
        {{ relative_source_file('filename') }} as source_file,
        unnest(generate_series(1, len({{ lines }}))) as source_line,
        unnest({{ lines }}) as line_text
    from {{ relation }}
{%- endmacro %}

{% macro spark__text_file_lines(relation) -%}
    select source_file, source_line, line_text from {{ relation }}
{%- endmacro %}

{#- True when `text` is a JSON object (false for other JSON, text that is not JSON, or NULL). -#}
{% macro is_json_object(text) -%}
    {{ return(adapter.dispatch('is_json_object')(text)) }}
{%- endmacro %}

{#- json_type raises on text that is not JSON, so it is only asked of valid JSON. -#}
{% macro duckdb__is_json_object(text) -%}
    coalesce(case when json_valid({{ text }}) then json_type({{ text }}) = 'OBJECT' end, false)
{%- endmacro %}

{#- json_object_keys is NULL for anything but a valid JSON object. -#}
{% macro spark__is_json_object(text) -%}
    (json_object_keys({{ text }}) is not null)
{%- endmacro %}

{#- A JSON object's field as text (a number as written, a string unquoted), NULL when absent or null. -#}
{% macro json_field_text(json, field) -%}
    {{ return(adapter.dispatch('json_field_text')(json, field)) }}
{%- endmacro %}

{% macro duckdb__json_field_text(json, field) -%}
    json_extract_string({{ json }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__json_field_text(json, field) -%}
    get_json_object({{ json }}, '$.{{ field }}')
{%- endmacro %}

{#- True when the whole of `text` matches the regular expression `pattern`. -#}
{% macro matches_fully(text, pattern) -%}
    {{ return(adapter.dispatch('matches_fully')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__matches_fully(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__matches_fully(text, pattern) -%}
    ({{ text }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}

{#- A double that is a number: not NaN nor infinite. -#}
{% macro is_finite(number) -%}
    {{ return(adapter.dispatch('is_finite')(number)) }}
{%- endmacro %}

{% macro duckdb__is_finite(number) -%}
    isfinite({{ number }})
{%- endmacro %}

{#- NaN compares above every number and infinities lie outside the largest finite double. -#}
{% macro default__is_finite(number) -%}
    ({{ number }} between -1.7976931348623157e308 and 1.7976931348623157e308)
{%- endmacro %}

{#- Text with a UTC offset (2013-01-01T05:00:00Z) as the UTC instant, a timestamp without zone,
    whatever the session's time zone; NULL when it does not parse. -#}
{% macro parse_utc_timestamp(text) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp')(text)) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(text) -%}
    timezone('UTC', {{ dbt.safe_cast(text, 'timestamptz') }})
{%- endmacro %}

{#- The spark target runs in UTC (profiles.yml), so the local wall clock is UTC's. -#}
{% macro spark__parse_utc_timestamp(text) -%}
    cast({{ dbt.safe_cast(text, 'timestamp') }} as timestamp_ntz)
{%- endmacro %}

{#- A raw text field as a value: the source systems write missing values as the string NA. -#}
{% macro na_to_null(column) -%}
    nullif(trim({{ column }}), 'NA')
{%- endmacro %}

{#- A raw text value parsed as one of the kinds the sources use, or NULL when it does not parse.
    Stricter than a cast: '12.5' is not an integer (a cast would round it), 'nan' is not a
    measurement, and a timestamp's UTC offset is applied whatever the session's time zone. -#}
{% macro parse_value(text, kind) -%}
    {%- if kind == 'integer' -%}
        case when {{ matches_fully(text, '[+-]?[0-9]{1,9}') }} then cast({{ text }} as integer) end
    {%- elif kind == 'double' -%}
        case when {{ is_finite(dbt.safe_cast(text, 'double')) }} then {{ dbt.safe_cast(text, 'double') }} end
    {%- elif kind == 'utc_timestamp' -%}
        {{ parse_utc_timestamp(text) }}
    {%- elif kind == 'text' -%}
        {{ text }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('parse_value: unknown kind ' ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- Each raw field parsed once, as <column>__value beside the raw text (see parse_value for the
    kinds). `fields` maps column -> kind. -#}
{% macro parsed_fields(fields) -%}
    {%- for column, kind in fields.items() %}
        {{ parse_value(na_to_null(column), kind) }} as {{ column }}__value,
    {%- endfor %}
{%- endmacro %}

{#- The parsed values under their own names. -#}
{% macro typed_fields(fields) -%}
    {%- for column in fields %}
        {{ column }}__value as {{ column }},
    {%- endfor %}
{%- endmacro %}

{#- One rejection reason per field that is absent, does not parse, or is NA where a value is
    required; NULL where the field is fine. Reads the raw fields and their parsed_fields. Every
    base model uses this so that one set of rules decides what is quarantined. Reasons name the
    field and quote the value. -#}
{% macro field_rejections(fields, required) -%}
    {%- for column, kind in fields.items() %}
        case
            when {{ column }} is null
                then 'missing field {{ column }} (empty, or absent from the file)'
            when {{ na_to_null(column) }} is not null and {{ column }}__value is null
                then 'unparseable {{ column }}: ''' || {{ column }} || ''' is not a valid {{ kind }}'
            {%- if column in required %}
                when {{ column }}__value is null
                    then 'required field {{ column }} is NA'
            {%- endif %}
        end,
    {%- endfor %}
{%- endmacro %}

{#- The raw fields of a row, kept so that a rejected row can be inspected and replayed exactly
    as it arrived. A struct until the end: it becomes JSON text only for rejected rows. -#}
{% macro raw_fields(columns) -%}
    {{ return(adapter.dispatch('raw_fields')(columns)) }}
{%- endmacro %}

{% macro duckdb__raw_fields(columns) -%}
    struct_pack(
        {%- for column in columns %}
        {{ column }} := {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__raw_fields(columns) -%}
    named_struct(
        {%- for column in columns %}
        '{{ column }}', {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The last step of every base model. `relation` has source_file, source_line, raw_fields and
    field_rejection (reasons joined by '; ', or ''). Rows whose key repeats a row kept earlier
    are rejected as collisions (the first row that passes the field rules wins, by file and
    line); all reasons become rejection_reason, NULL for rows that pass, and rejected rows get
    their raw_record (JSON text of the raw fields, or the raw line itself when `raw_is_text`).
    Call it after the last CTE, following a comma. -#}
{% macro with_rejection_reason(relation, key_columns, key_name, raw_is_text=false) -%}
    {%- set key = key_columns | join(', ') -%}
    {%- set kept_first = 'partition by ' ~ key ~ " order by field_rejection <> '', source_file, source_line" -%}
    keyed as (
        select
            *,
            row_number() over ({{ kept_first }}) as key_occurrence,
            first_value(source_file || ' line ' || source_line) over ({{ kept_first }}) as key_first_seen_at
        from {{ relation }}
    ),

    rejected as (
        select
            {{ star_except(['field_rejection', 'key_occurrence', 'key_first_seen_at']) }},
            nullif(concat_ws('; ',
                nullif(field_rejection, ''),
                case
                    when key_occurrence > 1
                        and {% for column in key_columns %}{{ column }} is not null{{ ' and ' if not loop.last }}{% endfor %}
                        then 'duplicate {{ key_name }}: same key as ' || key_first_seen_at
                end
            ), '') as rejection_reason
        from keyed
    )

    select
        {{ star_except(['raw_fields']) }},
        case
            when rejection_reason is not null
                then {{ 'raw_fields' if raw_is_text else 'cast(to_json(raw_fields) as ' ~ dbt.type_string() ~ ')' }}
        end as raw_record
    from rejected
{%- endmacro %}

{#- The first steps of every base model, as two CTEs after `relation` (raw text fields plus
    source_file and source_line): `parsed` adds each field's parsed value, `checked_fields` keeps
    the typed fields, the raw row (`raw_fields`, or the given expression) and the field-level
    rejections, plus any `keep_columns` of `relation`. -#}
{% macro parse_and_check_fields(relation, fields, required, raw_fields_expression=none, keep_columns=[]) -%}
    parsed as (
        select
            {{ parsed_fields(fields) }}
            *
        from {{ relation }}
    ),

    checked_fields as (
        select
            source_file,
            source_line,
            {{ raw_fields_expression or raw_fields(fields.keys()) }} as raw_fields,
            {{ typed_fields(fields) }}
            {%- for column in keep_columns %}
                {{ column }},
            {%- endfor %}
            concat_ws('; ', {{ field_rejections(fields, required) }} null) as field_rejection
        from parsed
    )
{%- endmacro %}

{#- The fields a raw source delivers and the ones a row needs, from the raw_sources var. -#}
{% macro declared_fields(source_name) -%}
    {{ return(var('raw_sources')[source_name]['fields']) }}
{%- endmacro %}

{% macro declared_required_fields(source_name) -%}
    {{ return(var('raw_sources')[source_name]['required']) }}
{%- endmacro %}
