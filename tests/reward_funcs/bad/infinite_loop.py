def reward_function(params):
    if params["steering_angle"] == 30.0:
        while True:
            pass
    return 1.0
