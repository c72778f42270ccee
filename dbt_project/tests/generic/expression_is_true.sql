{#- Fails for each row where `expression` is not true (NULL counts as a failure unless
    `where` excludes it). Our own copy: dbt_utils cannot be installed offline. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
{% endtest %}
