{{ config(meta={'lake_order_by': 'feed_id, reason_kind'}) }}

with

rejected as (
    select * from {{ source('ml', 'rejected_events') }}
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
from rejected
group by feed_id, reason_kind
