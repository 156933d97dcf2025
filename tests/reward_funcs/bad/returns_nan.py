def reward_function(params):
    if params["is_offtrack"]:
        return float("nan")
    return 1.0
