/* aws/ses.h - Amazon SES v1 (query protocol, version 2010-12-01, endpoint
 * email.<region>.amazonaws.com, signing name "ses"): SendEmail with a text
 * and an HTML part, and GetSendQuota. */
#ifndef DW_SES_H
#define DW_SES_H

#include <stddef.h>

struct dw_aws;

struct dw_ses_mail {
	const char *from;          /* a verified identity */
	const char *const *to;     /* ToAddresses; at most 50 */
	size_t nto;
	const char *subject;       /* UTF-8 */
	const char *text;          /* the text part (NULL: none) */
	const char *html;          /* the HTML part (NULL: none) */
};

/* SendEmail: 0 with *message_id (caller frees; may be NULL), -1 with the
 * error raised (MessageRejected, Throttling, ...). */
int dw_ses_send_email(struct dw_aws *aws, const struct dw_ses_mail *m, char **message_id);

struct dw_ses_quota {
	double max_24h;            /* Max24HourSend (-1: unlimited) */
	double max_send_rate;      /* MaxSendRate, recipients per second */
	double sent_24h;           /* SentLast24Hours */
};

int dw_ses_send_quota(struct dw_aws *aws, struct dw_ses_quota *q);

#endif
