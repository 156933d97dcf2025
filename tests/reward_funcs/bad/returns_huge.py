def reward_function(params):
    return 1e9 if params["speed"] > 3.5 else 1.0
