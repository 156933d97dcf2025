def reward_function(params):
    prev_wp = params["closest_waypoints"][0]
    # a bug that only shows at one place on the track
    scale = 1.0 / (prev_wp - 42)
    return 1.0 + 0.0 * scale
