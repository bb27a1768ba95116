from otter.test_files import test_case

OK_FORMAT = False

name = "backward_epoch"
points = 1

@test_case(points=None, hidden=False)
def test_backward_epoch(backward_epoch):
    from mspd_core import course
    course.require(course.CHECKS['backward_epoch'](backward_epoch))

