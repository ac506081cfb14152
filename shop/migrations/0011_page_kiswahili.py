"""Kiswahili title, summary and text for the shop's pages, with a default for each.

A page gets the Kiswahili default only while its English text is still the
default of 0009_pages: a page staff have rewritten keeps showing their English
to Kiswahili readers until they write its Kiswahili, rather than a translation
of a text they replaced.
"""

import importlib

from django.db import migrations, models

PAGES_SW = {
    "about": (
        "Kuhusu sisi",
        "Simu na vifaa vya elektroniki halisi, tunaleta kaunti zote 47 na unalipa kwa M-Pesa.",
        """Sisi ni duka la mtandaoni la Kenya la simu, laptop, vifaa vya sauti na vifaa vya ziada. Kila bidhaa tunayouza ni halisi na mpya, ina dhamana ya mtengenezaji, na tunaileta hadi mlangoni kwako au kwenye kituo cha kuchukulia mizigo katika kaunti yoyote kati ya kaunti 47 za Kenya.

## Kwa nini ununue kwetu
- Bei ziko kwa shilingi za Kenya, VAT imejumuishwa, bila gharama za kushtukiza: unaona ada ya usafirishaji ya kaunti yako kabla ya kulipa.
- Unalipa kwa M-Pesa kwenye simu yako mwenyewe. Hatutawahi kukuomba PIN yako, iwe kwa simu, SMS au WhatsApp.
- Kila oda ina ukurasa wake ambapo unaifuatilia kuanzia malipo hadi inapokufikia.
- Watu halisi hujibu maswali yako: angalia ukurasa wetu wa Wasiliana nasi.""",
    ),
    "contact": (
        "Wasiliana nasi",
        "Tupigie simu, tuandikie WhatsApp au barua pepe kuhusu oda, bidhaa au kurudisha bidhaa.",
        """Tunapatikana Jumatatu hadi Jumamosi, saa 2 asubuhi hadi saa 12 jioni (8:00 hadi 18:00, saa za Afrika Mashariki), isipokuwa sikukuu za umma. Ujumbe unaotumwa nje ya saa hizi hujibiwa siku ya kazi inayofuata.

## Kabla ya kupiga simu
- Kuwa na nambari ya oda yako tayari (inaanza na DT, na iko kwenye barua pepe zako na kwenye ukurasa wa oda yako).
- Kwa swali kuhusu malipo, kuwa na ujumbe wa uthibitisho wa M-Pesa karibu.

## Kuwa salama
- Hatutawahi kukuomba PIN yako ya M-Pesa wala nenosiri lako.
- Tunakuomba ulipe tu kupitia ombi la M-Pesa linalojitokeza kwenye simu yako au kwa Paybill inayoonyeshwa kwenye ukurasa wa oda yako. Mtu yeyote akikuomba utume pesa kwa nambari ya mtu binafsi, usilipe, na utujulishe.""",
    ),
    "delivery": (
        "Usafirishaji",
        "Tunaleta kaunti zote 47: ada kwa kila eneo, muda na unachopaswa kutarajia.",
        """Tunaleta bidhaa katika kaunti zote 47 za Kenya. Ada ya usafirishaji inategemea kaunti yako na inaonyeshwa unapolipia oda, kabla ya kulipa; oda kubwa husafirishwa bure katika maeneo mengi (angalia jedwali hapa chini).

## Jinsi inavyofanya kazi
- Oda zinazolipwa kabla ya saa 8 mchana siku ya kazi kwa kawaida hufungwa siku hiyo hiyo.
- Tunampa rider wetu au kampuni ya usafirishaji (kwa mfano G4S, Wells Fargo au Fargo Courier) mzigo wako, na tunakutumia nambari ya kuufuatilia kwa barua pepe na SMS.
- Rider humpigia mpokeaji kwenye nambari yake ya simu kabla ya kufika, kwa hivyo tafadhali toa nambari itakayopokelewa.
- Kagua mzigo kabla ya kutia sahihi kuupokea. Ukiwa umeharibika au umefunguliwa, ukatae na utupigie simu.

## Muda wa kufika
Muda huhesabiwa kwa siku za kazi baada ya malipo, na ni makadirio: hali ya hewa, barabara na sikukuu za umma zinaweza kuongeza siku moja au mbili. Mzigo wako ukichelewa, wasiliana nasi ukiwa na nambari ya oda yako.""",
    ),
    "returns": (
        "Kurudisha bidhaa na dhamana",
        "Cha kufanya bidhaa ikiwa na hitilafu, ikiwa imeharibika au ikiwa si uliyoagiza.",
        """Tunataka uridhike na ulichonunua. Sera hii haipunguzi haki zako chini ya Sheria ya Kulinda Watumiaji, 2012 (Consumer Protection Act, 2012).

## Kurudisha ndani ya siku 7
Unaweza kurudisha bidhaa ndani ya siku 7 baada ya kukufikia ikiwa:
- ina hitilafu au imeharibika, au
- si uliyoagiza (modeli, rangi au ukubwa wa hifadhi tofauti).

Wasiliana nasi ukiwa na nambari ya oda yako na maelezo mafupi au picha. Tutapanga ichukuliwe au tutakuambia mahali pa kuileta. Tukishaikagua, tutaitengeneza, tutakupa nyingine au tutakurejeshea pesa.

## Ukibadili nia
Bidhaa ambayo haijafunguliwa, ikiwa bado kwenye kifurushi chake halisi kilichofungwa, inaweza kurudishwa ndani ya siku 7 baada ya kukufikia. Gharama ya kuirudisha ni yako. Simu na laptop zilizofunguliwa, programu, laini za simu (SIM), earphones na bidhaa nyingine za matumizi ya mwili haziwezi kurudishwa kwa sababu ya kubadili nia.

## Marejesho ya pesa
Pesa hurejeshwa kwa nambari ya M-Pesa iliyolipa, kwa kawaida ndani ya siku 7 baada ya sisi kukagua bidhaa. Utaona marejesho ya pesa kwenye ukurasa wa oda yako.

## Dhamana
Bidhaa mpya zina dhamana ya mtengenezaji, kwa kawaida miezi 12 (ukurasa wa bidhaa husema ikiwa ni tofauti). Hifadhi barua pepe ya oda yako: ndiyo uthibitisho wa ununuzi. Hitilafu ikijitokeza baada ya siku 7 za kwanza, wasiliana nasi na tutakusaidia kupitia kituo cha huduma cha mtengenezaji.""",
    ),
    "terms": (
        "Sheria na masharti",
        "Masharti ya kununua kutoka duka letu.",
        """Masharti haya yanatumika unaponunua kutoka duka letu la mtandaoni. Yanaongozwa na sheria za Kenya, ikiwemo Sheria ya Kulinda Watumiaji, 2012 (Consumer Protection Act, 2012).

## Bei na malipo
- Bei ziko kwa shilingi za Kenya na VAT imejumuishwa. Ada ya usafirishaji inaonyeshwa unapolipia oda, kabla ya kulipa.
- Unalipa kwa M-Pesa. Oda isiyolipwa ndani ya muda unaoonyeshwa unapolipia huisha, na bidhaa zake huachiliwa.
- Mkataba wetu nawe unaanza malipo yako yanapothibitishwa na tunapokutumia barua pepe ya risiti ya malipo.

## Bidhaa na makosa
Tunajitahidi kuweka idadi ya bidhaa zilizopo sawa, lakini bidhaa ikikosekana au ikiwa na bei isiyo sahihi baada ya wewe kulipa, tutakujulisha na kukurejeshea pesa zote.

## Kughairi oda
Unaweza kughairi oda kwenye ukurasa wake hadi itakapotoka dukani kwetu. Pesa za oda iliyolipwa hurejeshwa kwa nambari ya M-Pesa iliyolipa. Kwa bidhaa ambazo tayari zimekufikia, angalia Kurudisha bidhaa na dhamana.

## Akaunti yako
Usimpe mtu yeyote nenosiri lako. Unaweza kupakua data yako au kufuta akaunti yako wakati wowote kwenye kurasa za akaunti yako (angalia Ilani yetu ya faragha).

## Mawasiliano
Maswali kuhusu masharti haya: angalia ukurasa wetu wa Wasiliana nasi.""",
    ),
    "privacy": (
        "Ilani ya faragha",
        "Data binafsi tunazohifadhi, kwa nini, kwa muda gani, na haki zako chini ya Sheria ya Ulinzi wa Data, 2019.",
        """Ilani hii inaeleza jinsi tunavyoshughulikia data yako binafsi chini ya Sheria ya Ulinzi wa Data ya Kenya, 2019 (Data Protection Act, 2019). Sisi ndio mdhibiti wa data (data controller) inayoelezwa hapa. Ili kutufikia kuhusu data yako, tumia maelezo yaliyo kwenye ukurasa wetu wa Wasiliana nasi na uandike “Ulinzi wa data” kwenye ujumbe wako.

## Tunachohifadhi
- Jina lako, anwani ya barua pepe na nambari ya simu.
- Anwani za kupelekewa unazohifadhi au unazotoa unapolipia oda, pamoja na jina na simu ya mpokeaji.
- Oda zako: ulichonunua, bei, ada za usafirishaji, hali ya oda na historia ya usafirishaji wake.
- Rekodi za malipo: nambari ya M-Pesa iliyolipa, kiasi na nambari ya risiti ya M-Pesa. Hatuoni wala kuhifadhi PIN yako ya M-Pesa.
- Vipendwa vyako, kikapu, maoni na picha ya wasifu, ukiviweka.
- Anwani ya mtandao (IP) ambayo oda iliwekwa kutoka kwayo, na kidakuzi (cookie) cha kipindi kinachokuweka ndani ya akaunti na kukumbuka kikapu chako.

## Kwa nini tunaihifadhi
- Kupokea na kukuletea oda zako na kupokea malipo yako (kutimiza mkataba wetu nawe).
- Kuweka rekodi za kodi na za hesabu zinazotakiwa na sheria (wajibu wa kisheria).
- Kuzuia ulaghai na matumizi mabaya, kwa mfano kwa kuweka kikomo cha oda ambazo hazijalipwa (maslahi yetu halali).
- Kukutumia barua pepe na SMS kuhusu oda zako. Tunakutumia matangazo tu ukikubali.

## Tunaowapa data
Kila mmoja hupata tu kile anachohitaji: Safaricom (malipo ya M-Pesa), riders wetu na kampuni za usafirishaji (jina, simu na anwani ya mpokeaji), watoa huduma wetu wa barua pepe na SMS, na mtoa huduma anayehifadhi tovuti yetu (hosting). Hatuuzi data yako.

## Tunaihifadhi kwa muda gani
- Maelezo ya akaunti yako, anwani, vipendwa na kikapu: muda wote akaunti yako ipo.
- Oda na rekodi za malipo: miaka 5 baada ya mauzo, kwa sababu Sheria ya VAT, 2013 (VAT Act, 2013) na Sheria ya Taratibu za Kodi, 2015 (Tax Procedures Act, 2015) zinatutaka tuhifadhi rekodi za mauzo kwa miaka 5.
- Vipindi (sessions) vya wageni: wiki mbili baada ya ziara ya mwisho.

## Haki zako
Una haki ya kuelezwa jinsi data yako inavyotumika, kuipata, kuirekebisha, kuifuta, kupinga matumizi yake, na kuipokea kwa muundo unaoweza kuupeleka kwingine.
- Kupakua data yako: kwenye akaunti yako, fungua sehemu ya data yako na upakue nakala (faili ya JSON).
- Kuirekebisha: hariri wasifu na anwani zako kwenye akaunti yako, au wasiliana nasi.
- Kufuta akaunti yako: kwenye akaunti yako, fungua sehemu ya data yako. Tunaondoa jina lako, barua pepe, simu, picha, anwani ulizohifadhi, vipendwa, kikapu na maoni, na kukutoa kwenye akaunti kila mahali. Oda ambazo bado zinalipiwa au ziko njiani lazima zikamilike kwanza.
- Kinachobaki baada ya kufuta: sheria inatutaka tuhifadhi nambari ya kila oda, tarehe, bidhaa, bei, ada ya usafirishaji, jumla, kaunti na nambari za risiti za M-Pesa kwa miaka 5. Tunazitenganisha nawe: jina, barua pepe, nambari za simu na anwani ya mtaa kwenye oda hizo huondolewa.
- Kupinga matumizi, au kuuliza jambo lingine lolote: wasiliana nasi. Tunajibu ndani ya siku 7.

## Malalamiko
Ikiwa hujaridhika na jinsi tulivyoshughulikia data yako, unaweza kulalamika kwa Ofisi ya Kamishna wa Ulinzi wa Data (Office of the Data Protection Commissioner, ODPC): www.odpc.go.ke.""",
    ),
}


def add_kiswahili(apps, schema_editor):
    Page = apps.get_model("shop", "Page")
    english = {slug: body for slug, _title, _summary, body in _default_pages()}
    for page in Page.objects.filter(slug__in=PAGES_SW):
        if page.body != english.get(page.slug):
            continue  # staff rewrote it: their English stays until they write the Kiswahili
        title, summary, body = PAGES_SW[page.slug]
        # update(), not save(): the page's "last updated" date is about its terms.
        Page.objects.filter(pk=page.pk).update(
            title_sw=page.title_sw or title,
            summary_sw=page.summary_sw or summary,
            body_sw=page.body_sw or body,
        )


def _default_pages():
    return importlib.import_module("shop.migrations.0009_pages").PAGES


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0010_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="page",
            name="title_sw",
            field=models.CharField(
                blank=True,
                help_text="Leave blank to show the English title to shoppers reading in Kiswahili.",
                max_length=120,
                verbose_name="title in Kiswahili",
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="summary_sw",
            field=models.CharField(
                blank=True,
                help_text="Leave blank to use the English summary.",
                max_length=200,
                verbose_name="summary in Kiswahili",
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="body_sw",
            field=models.TextField(
                blank=True,
                help_text=(
                    "Written like the English text. Leave blank to show the English text to "
                    "shoppers reading in Kiswahili."
                ),
                verbose_name="text in Kiswahili",
            ),
        ),
        migrations.RunPython(add_kiswahili, migrations.RunPython.noop),
    ]
