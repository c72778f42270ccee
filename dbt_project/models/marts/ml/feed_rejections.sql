{{ config(meta={'lake_order_by': 'feed_id, reason_kind'}) }}

with

rejected as (
    select * from {{ source('ml', 'rejected_events') }}
),

classified as (
    select
        feed_id,
        reason,
        event_id,
        feed_clock_utc,
        case
            when reason like 'malformed%' then 'malformed'
            when reason like 'out of order%' then 'out of order'
            when reason like 'unknown flight%' then 'unknown flight'
            when reason like 'conflicts%' then 'conflicting redelivery'
            else 'contradicts what is known'
        end as reason_kind
    from rejected
)

select
    -- ids
    feed_id,
    reason_kind,

    -- what was refused
    count(*) as rejected_events,
    count(distinct event_id) as rejected_event_ids,
    min(reason) as example_reason,

    -- when, in feed time
    min(feed_clock_utc) as first_feed_clock_utc,
    max(feed_clock_utc) as last_feed_clock_utc
from classified
group by feed_id, reason_kind
