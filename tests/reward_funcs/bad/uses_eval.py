def reward_function(params):
    return eval("1.0 + params['speed']")
