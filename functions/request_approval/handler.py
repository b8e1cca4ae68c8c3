"""Lambda handler: state-machine task request-approval — stores the task token, notifies the approvers (.waitForTaskToken) (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_request_approval

handler = task_handler(build_request_approval)
