def reward_function(params):
    side = params["is_left_of_center"]
    match side:
        case True:
            return 1.0
        case _:
            return 0.5
