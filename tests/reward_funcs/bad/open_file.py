def reward_function(params):
    with open("/tmp/log.txt", "a") as f:
        f.write(str(params["progress"]))
    return 1.0
